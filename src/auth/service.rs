//! Login and refresh-token rotation.
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait, sea_query::Expr,
};

use crate::{
    auth::{password, tokens},
    entities::{refresh_tokens, users},
    error::{AppError, AppResult},
    state::AppState,
    time,
};

pub struct TokenPair {
    pub access: String,
    pub refresh: String,
    pub expires_in: u64,
    pub user: users::Model,
}

fn bad_credentials() -> AppError {
    AppError::Unauthenticated("invalid username or password".into())
}

/// The same 401 for an unknown user, a wrong password and an inactive user; an unknown
/// user still costs one hash verification.
pub async fn login(
    state: &AppState,
    username: &str,
    password: &str,
    client: &str,
) -> AppResult<TokenPair> {
    state.throttle.check(username, client)?;
    let user = users::Entity::find()
        .filter(users::Column::Username.eq(username))
        .one(&state.db)
        .await?;
    let hash = match &user {
        Some(u) => u.password_hash.clone(),
        None => password::dummy_hash().await?,
    };
    let ok = password::verify(hash, password.to_owned()).await?;
    let user = match user {
        Some(u) if ok && u.is_active => u,
        _ => {
            state.throttle.record_failure(username, client);
            return Err(bad_credentials());
        }
    };
    state.throttle.record_success(username);
    issue(state, user, tokens::random_token()).await
}

async fn issue(state: &AppState, user: users::Model, family: String) -> AppResult<TokenPair> {
    let access = state
        .keys
        .issue_access(user.id, state.config.access_token_ttl)?;
    let refresh = store_refresh(state, &state.db, user.id, family).await?;
    Ok(TokenPair {
        access,
        refresh,
        expires_in: state.config.access_token_ttl.as_secs(),
        user,
    })
}

async fn store_refresh(
    state: &AppState,
    db: &impl sea_orm::ConnectionTrait,
    user_id: i32,
    family: String,
) -> AppResult<String> {
    let token = tokens::random_token();
    let now = time::now();
    let ttl =
        chrono::Duration::from_std(state.config.refresh_token_ttl).map_err(AppError::internal)?;
    refresh_tokens::ActiveModel {
        user_id: Set(user_id),
        family_id: Set(family),
        token_hash: Set(tokens::hash_refresh(&token)),
        expires_at: Set(now + ttl),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// Rotates a refresh token. Presenting one that was already used revokes its family.
pub async fn refresh(state: &AppState, token: &str) -> AppResult<TokenPair> {
    let invalid = || AppError::Unauthenticated("invalid or expired refresh token".into());
    let now = time::now();
    let Some(row) = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(tokens::hash_refresh(token)))
        .one(&state.db)
        .await?
    else {
        return Err(invalid());
    };
    if row.revoked_at.is_some() {
        return Err(invalid());
    }
    if row.expires_at <= now {
        return Err(invalid());
    }
    let txn = state.db.begin().await?;
    // One statement decides who uses the token: a concurrent or later second use finds
    // no row to update and is treated as reuse.
    let claimed = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::UsedAt, Expr::value(now))
        .filter(refresh_tokens::Column::Id.eq(row.id))
        .filter(refresh_tokens::Column::UsedAt.is_null())
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if claimed != 1 {
        txn.rollback().await?;
        revoke_family(state, &row.family_id).await?;
        tracing::warn!(user_id = row.user_id, "refresh token reuse: family revoked");
        return Err(invalid());
    }
    let user = users::Entity::find_by_id(row.user_id)
        .one(&txn)
        .await?
        .filter(|u| u.is_active)
        .ok_or_else(invalid)?;
    let refresh = store_refresh(state, &txn, user.id, row.family_id.clone()).await?;
    txn.commit().await?;
    let access = state
        .keys
        .issue_access(user.id, state.config.access_token_ttl)?;
    Ok(TokenPair {
        access,
        refresh,
        expires_in: state.config.access_token_ttl.as_secs(),
        user,
    })
}

async fn revoke_family(state: &AppState, family: &str) -> AppResult<()> {
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(time::now()))
        .filter(refresh_tokens::Column::FamilyId.eq(family))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(&state.db)
        .await?;
    Ok(())
}
