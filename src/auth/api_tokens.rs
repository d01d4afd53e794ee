//! API tokens as a credential (NOTIFY.md, "API tokens"): the secret's shape, what the
//! database keeps of it, and what one presented with a request amounts to. Creating,
//! listing and revoking them are use cases in `domain::tokens`.
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, JoinType, QueryFilter, QuerySelect,
    sea_query::Expr,
};

use crate::{
    auth::{
        tokens,
        viewer::{Auth, Via, Viewer},
    },
    entities::{api_tokens, enums::Role, users},
    error::{AppError, AppResult},
    i18n::Msg,
    time,
};

/// What every secret starts with, so a request's token is told from a JWT without
/// parsing it (and so secret scanners can recognise a leaked one).
pub const PREFIX: &str = "dct_";
/// 32 random bytes in unpadded base64url.
const BODY_LEN: usize = 43;
/// `lastUsedAt` is written at most this often per token (NOTIFY.md: once a minute).
pub const TOUCH_EVERY: TimeDelta = TimeDelta::seconds(60);

/// A new secret: `dct_` and 256 random bits.
pub fn generate() -> String {
    format!("{PREFIX}{}", tokens::random_token())
}

/// What the database keeps of a secret: its SHA-256, hex. A fast hash is enough for 256
/// random bits (nobody enumerates them), and a slow one (argon2) would add its full cost
/// to every request a script makes. The lookup is by equality on a unique index, so no
/// comparison of secrets happens in our code to leak timing.
pub fn hash(secret: &str) -> String {
    tokens::hash_refresh(secret)
}

/// Whether `secret` has the shape `generate` gives: anything else is refused without a
/// database round trip.
fn well_formed(secret: &str) -> bool {
    secret.strip_prefix(PREFIX).is_some_and(|body| {
        body.len() == BODY_LEN
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// What a presented API token amounts to now: one indexed lookup by its hash joined with
/// its user (unrevoked, user active), then its expiry; the user's current role comes
/// with the row. Every refusal is the same UNAUTHENTICATED as a bad JWT's.
pub async fn resolve(db: &DatabaseConnection, secret: &str) -> Auth {
    let invalid = || Auth::Invalid(AppError::Unauthenticated(Msg::BadToken));
    if !well_formed(secret) {
        return invalid();
    }
    let found = users::Entity::find()
        .select_also(api_tokens::Entity)
        .join_rev(JoinType::InnerJoin, to_user())
        .filter(api_tokens::Column::SecretHash.eq(hash(secret)))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .filter(users::Column::IsActive.eq(true))
        .one(db)
        .await;
    let (user, token) = match found {
        Ok(Some((user, Some(token)))) => (user, token),
        Ok(_) => return invalid(),
        Err(e) => return Auth::Invalid(e.into()),
    };
    let now = time::now();
    if token.expires_at.is_some_and(|at| at <= now) {
        return invalid();
    }
    touch(db, &token, now).await;
    Auth::Authenticated(Viewer {
        via: Via::ApiToken {
            id: token.id,
            scope: token.scope,
            expires_at: token
                .expires_at
                .map(|at| u64::try_from(at.timestamp()).unwrap_or(0)),
        },
        ..Viewer::from_user(&user)
    })
}

/// The API tokens among `ids` that still work, as [`resolve`] would find them now
/// (unrevoked, unexpired, user active), with their user's role: (user, token, role). The
/// live reader's check of its token subscribers, one query per batch.
pub async fn live_among(
    db: &DatabaseConnection,
    ids: impl IntoIterator<Item = i32>,
) -> AppResult<Vec<(i32, i32, Role)>> {
    let now = time::now();
    Ok(api_tokens::Entity::find()
        .select_only()
        .column(api_tokens::Column::UserId)
        .column(api_tokens::Column::Id)
        .column(users::Column::Role)
        .join(JoinType::InnerJoin, to_user())
        .filter(api_tokens::Column::Id.is_in(ids))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .filter(
            Condition::any()
                .add(api_tokens::Column::ExpiresAt.is_null())
                .add(api_tokens::Column::ExpiresAt.gt(now)),
        )
        .filter(users::Column::IsActive.eq(true))
        .into_tuple::<(i32, i32, Role)>()
        .all(db)
        .await?)
}

/// `api_tokens.user_id → users.id`, for joins (the entities declare no relations).
pub fn to_user() -> sea_orm::RelationDef {
    api_tokens::Entity::belongs_to(users::Entity)
        .from(api_tokens::Column::UserId)
        .to(users::Column::Id)
        .into()
}

/// Records the use at most once per [`TOUCH_EVERY`]: nothing when the row read says it
/// was recorded less than that ago (the common case: no write), else one conditional
/// UPDATE, which concurrent requests of the same token race for harmlessly (the first
/// moves the time and the condition stops the others). A failure is logged, never the
/// request's: the use is bookkeeping, not a permission.
async fn touch(db: &DatabaseConnection, token: &api_tokens::Model, now: DateTime<Utc>) {
    let stale = now - TOUCH_EVERY;
    if token.last_used_at.is_some_and(|at| at > stale) {
        return;
    }
    let written = api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::LastUsedAt, Expr::value(now))
        .filter(api_tokens::Column::Id.eq(token.id))
        .filter(
            Condition::any()
                .add(api_tokens::Column::LastUsedAt.is_null())
                .add(api_tokens::Column::LastUsedAt.lte(stale)),
        )
        .exec(db)
        .await;
    if let Err(e) = written {
        tracing::warn!(token = token.id, error = %e, "could not record an API token's use");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_one_shape_and_are_stored_hashed() {
        let s = generate();
        assert!(s.starts_with("dct_"), "{s}");
        assert!(well_formed(&s));
        assert_ne!(s, generate());
        assert_eq!(hash(&s).len(), 64);
        assert!(!hash(&s).contains(&s[4..]));
        for bad in [
            "",
            "dct_",
            "dct_short",
            &format!("{s}x"),
            &format!("dct_{}", "!".repeat(43)),
            &s.replacen("dct_", "dcx_", 1),
        ] {
            assert!(!well_formed(bad), "{bad}");
        }
    }
}
