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

/// A login username or password the server refuses to even look up: too long for any
/// account, or carrying control characters (a NUL byte would otherwise reach
/// PostgreSQL, which rejects it with an internal error).
fn validate_credentials(username: &str, password: &str) -> AppResult<()> {
    const MAX_USERNAME_CHARS: usize = 150;
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(AppError::bad_input(
            "username",
            format!("must be at most {MAX_USERNAME_CHARS} characters"),
        ));
    }
    if password.chars().count() > password::MAX_PASSWORD_LEN {
        return Err(AppError::bad_input(
            "password",
            format!("must be at most {} characters", password::MAX_PASSWORD_LEN),
        ));
    }
    password::no_control_chars("username", username)?;
    password::no_control_chars("password", password)
}

/// The same 401 for an unknown user, a wrong password and an inactive user; an unknown
/// user still costs one hash verification. The throttle reserves budget *before* the
/// password is verified (see `auth::throttle`).
pub async fn login(
    state: &AppState,
    username: &str,
    password: &str,
    client: &str,
) -> AppResult<TokenPair> {
    validate_credentials(username, password)?;
    let db = &state.db;
    let reservation = state.throttle.reserve(db, username, client).await?;
    let checked = check_password(state, username, password).await;
    match checked {
        Ok(Some(user)) => {
            state.throttle.succeeded(db, reservation).await?;
            issue(state, user, tokens::random_token()).await
        }
        Ok(None) => Err(bad_credentials()),
        Err(e) => {
            // Not verified (overload, database trouble): the attempt was no failure.
            if let Err(refund) = state.throttle.refund(db, reservation).await {
                tracing::warn!(error = %refund, "could not refund a login reservation");
            }
            Err(e)
        }
    }
}

/// The active user whose password this is, or `None`.
async fn check_password(
    state: &AppState,
    username: &str,
    password: &str,
) -> AppResult<Option<users::Model>> {
    let user = users::Entity::find()
        .filter(users::Column::Username.eq(username))
        .one(&state.db)
        .await?;
    let hash = match &user {
        Some(u) => u.password_hash.clone(),
        None => password::dummy_hash(&state.hasher).await?,
    };
    let ok = state.hasher.verify(hash, password.to_owned()).await?;
    Ok(user.filter(|u| ok && u.is_active))
}

/// Opens a new login session (refresh family) for `user`: what a successful login
/// returns. Public for tools and tests that need a signed-in user without a password.
pub async fn open_session(state: &AppState, user: users::Model) -> AppResult<TokenPair> {
    issue(state, user, tokens::random_token()).await
}

async fn issue(state: &AppState, user: users::Model, family: String) -> AppResult<TokenPair> {
    let access = state
        .keys
        .issue_access(user.id, &family, state.config.access_token_ttl)?;
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
        .issue_access(user.id, &row.family_id, state.config.access_token_ttl)?;
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
