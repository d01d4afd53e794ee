//! `createApiToken`, `myApiTokens`, `revokeApiToken`: a user's own tokens.
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
    sea_query::{Expr, LockType},
};

use super::policy::{self, MAX_LIVE_PER_USER};
use crate::{
    auth::{Viewer, api_tokens as secret},
    domain::{require, validate},
    entities::{api_tokens, enums::ApiTokenScope, users},
    error::{AppError, AppResult},
    i18n::Msg,
    time,
};

/// Characters in a token's name.
pub const NAME_MAX: usize = 100;

/// What `createApiToken` asks for.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub name: String,
    pub scope: ApiTokenScope,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new token of the viewer and its secret, which exists only in this return value.
///
/// FORBIDDEN when the viewer is itself a token; BAD_USER_INPUT naming `name` (empty,
/// too long, control characters) or `expiresAt` (not in the future), or when the user
/// would hold more than [`MAX_LIVE_PER_USER`] live tokens. Nothing is written then.
pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    input: NewToken,
) -> AppResult<(api_tokens::Model, String)> {
    require(policy::may_create(viewer), Msg::TokenCannotCreateTokens)?;
    let name = validate::title("name", &input.name, NAME_MAX)?;
    let now = time::now();
    let expires_at = input.expires_at.map(trunc);
    if !policy::live(expires_at, now) {
        return Err(AppError::BadUserInput(Msg::MustBeInFuture {
            field: "expiresAt".into(),
        }));
    }
    let plain = secret::generate();
    let row = api_tokens::ActiveModel {
        user_id: Set(viewer.id),
        name: Set(name),
        scope: Set(input.scope),
        secret_hash: Set(secret::hash(&plain)),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        last_used_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    };
    Ok((insert_within_cap(db, row, viewer.id, now).await?, plain))
}

/// Writes the row unless the user would then hold more than [`MAX_LIVE_PER_USER`] live
/// tokens, counted in the insert's transaction with the user's creations serialised (the
/// shape of `plans::service::insert_within_cap`): the INSERT first, which on SQLite takes
/// the write lock before anything is read; on PostgreSQL the user's row is locked next,
/// `FOR NO KEY UPDATE` (compatible with the INSERT's foreign-key `KEY SHARE`, so two
/// creations wait for each other instead of deadlocking), and the count after it sees
/// every token committed by a creation it waited for.
async fn insert_within_cap(
    db: &DatabaseConnection,
    row: api_tokens::ActiveModel,
    user_id: i32,
    now: DateTime<Utc>,
) -> AppResult<api_tokens::Model> {
    let txn = db.begin().await?;
    let row = row.insert(&txn).await?;
    users::Entity::find_by_id(user_id)
        .select_only()
        .column(users::Column::Id)
        .lock(LockType::NoKeyUpdate)
        .into_tuple::<i32>()
        .one(&txn)
        .await?;
    let live = api_tokens::Entity::find()
        .filter(live_of(user_id, now))
        .count(&txn)
        .await?;
    if live > MAX_LIVE_PER_USER {
        txn.rollback().await?;
        return Err(AppError::BadUserInput(Msg::ApiTokensPerUser {
            max: MAX_LIVE_PER_USER as usize,
        }));
    }
    txn.commit().await?;
    Ok(row)
}

/// The user's live tokens: unrevoked and unexpired (on the `(user_id, revoked_at)` index).
fn live_of(user_id: i32, now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(api_tokens::Column::UserId.eq(user_id))
        .add(api_tokens::Column::RevokedAt.is_null())
        .add(
            Condition::any()
                .add(api_tokens::Column::ExpiresAt.is_null())
                .add(api_tokens::Column::ExpiresAt.gt(now)),
        )
}

/// The viewer's live tokens, newest first: at most [`MAX_LIVE_PER_USER`] (revoked and
/// expired ones are not listed, so the list stays bounded).
pub async fn mine(db: &impl ConnectionTrait, viewer: &Viewer) -> AppResult<Vec<api_tokens::Model>> {
    Ok(api_tokens::Entity::find()
        .filter(live_of(viewer.id, time::now()))
        .order_by_desc(api_tokens::Column::Id)
        .limit(MAX_LIVE_PER_USER)
        .all(db)
        .await?)
}

/// Revokes one of the viewer's tokens; the next request with it is UNAUTHENTICATED.
/// Another user's token, an unknown or an already revoked one is NOT_FOUND (revoking is
/// not repeated, and another's token is not revealed). A token may revoke itself.
pub async fn revoke(db: &DatabaseConnection, viewer: &Viewer, id: i32) -> AppResult<i32> {
    let done = api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::RevokedAt, Expr::value(time::now()))
        .filter(api_tokens::Column::Id.eq(id))
        .filter(api_tokens::Column::UserId.eq(viewer.id))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if done.rows_affected == 0 {
        return Err(AppError::NotFound(Msg::ApiTokenNotFound));
    }
    Ok(id)
}

/// Microseconds, as both databases store them (so the value returned is the value read
/// back later).
fn trunc(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::DurationRound;
    at.duration_trunc(chrono::TimeDelta::microseconds(1))
        .unwrap_or(at)
}
