//! Login and refresh-token rotation.
use crate::i18n::Msg;
use std::time::Duration;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
    TransactionTrait, sea_query::Expr,
};

use crate::{
    auth::{
        password::{self, HashPool, Lane},
        throttle::LoginThrottle,
        tokens::{self, Keys},
    },
    entities::{refresh_tokens, users},
    error::{AppError, AppResult},
    time,
};

/// How long issued tokens live (`ACCESS_TOKEN_TTL`, `REFRESH_TOKEN_TTL`).
#[derive(Clone, Copy, Debug)]
pub struct TokenTtl {
    pub access: Duration,
    pub refresh: Duration,
}

/// What opening, rotating and checking sessions needs: the database, the signing keys
/// and the token lifetimes. Borrowed from the application state by the transport, so
/// this module never sees the rest of it (config, storage, …).
#[derive(Clone, Copy)]
pub struct Sessions<'a> {
    pub db: &'a DatabaseConnection,
    pub keys: &'a Keys,
    pub ttl: TokenTtl,
}

/// What a password login needs on top of [`Sessions`]: the failure throttle and the
/// pool that runs the hash verifications.
#[derive(Clone, Copy)]
pub struct LoginGuard<'a> {
    pub throttle: &'a LoginThrottle,
    pub hasher: &'a HashPool,
}

pub struct TokenPair {
    pub access: String,
    pub refresh: String,
    pub expires_in: u64,
    pub user: users::Model,
}

fn bad_credentials() -> AppError {
    AppError::Unauthenticated(Msg::BadCredentials)
}

/// A login username or password the server refuses to even look up: too long for any
/// account, or carrying control characters (a NUL byte would otherwise reach
/// PostgreSQL, which rejects it with an internal error).
fn validate_credentials(username: &str, password: &str) -> AppResult<()> {
    const MAX_USERNAME_CHARS: usize = 150;
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(AppError::BadUserInput(Msg::AtMostChars {
            field: "username".into(),
            max: MAX_USERNAME_CHARS,
        }));
    }
    if password.chars().count() > password::MAX_PASSWORD_LEN {
        return Err(AppError::BadUserInput(Msg::AtMostChars {
            field: "password".into(),
            max: password::MAX_PASSWORD_LEN,
        }));
    }
    password::no_control_chars("username", username)?;
    password::no_control_chars("password", password)
}

/// The same 401 for an unknown user, a wrong password and an inactive user; an unknown
/// user still costs one hash verification. The throttle reserves budget *before* the
/// password is verified (see `auth::throttle`).
pub async fn login(
    sessions: Sessions<'_>,
    guard: LoginGuard<'_>,
    username: &str,
    password: &str,
    client: &str,
) -> AppResult<TokenPair> {
    validate_credentials(username, password)?;
    let db = sessions.db;
    let reservation = guard.throttle.reserve(db, username, client).await?;
    let first = reservation.first_from_here();
    let checked = check_password(db, guard.hasher, username, password, first).await;
    match checked {
        Ok(Some(user)) => {
            guard.throttle.succeeded(db, reservation).await?;
            issue(sessions, user, tokens::random_token()).await
        }
        Ok(None) => {
            guard.throttle.failed(db, reservation).await?;
            Err(bad_credentials())
        }
        Err(e) => {
            // Not verified (overload, database trouble): the attempt was no failure.
            if let Err(refund) = guard.throttle.refund(db, reservation).await {
                tracing::warn!(error = %refund, "could not refund a login reservation");
            }
            Err(e)
        }
    }
}

/// The active user whose password this is, or `None`.
async fn check_password(
    db: &DatabaseConnection,
    hasher: &HashPool,
    username: &str,
    password: &str,
    first_from_here: bool,
) -> AppResult<Option<users::Model>> {
    let user = users::Entity::find()
        .filter(users::Column::Username.eq(username))
        .one(db)
        .await?;
    let (hash, lane) = match &user {
        // A known user's first attempt from this address waits in the first lane.
        Some(u) if first_from_here => (u.password_hash.clone(), Lane::First),
        Some(u) => (u.password_hash.clone(), Lane::Other),
        None => (password::dummy_hash(hasher).await?, Lane::Other),
    };
    let ok = hasher.verify(hash, password.to_owned(), lane).await?;
    Ok(user.filter(|u| ok && u.is_active))
}

/// Opens a new login session (refresh family) for `user`: what a successful login
/// returns. Public for tools and tests that need a signed-in user without a password.
pub async fn open_session(sessions: Sessions<'_>, user: users::Model) -> AppResult<TokenPair> {
    issue(sessions, user, tokens::random_token()).await
}

async fn issue(sessions: Sessions<'_>, user: users::Model, family: String) -> AppResult<TokenPair> {
    let access = sessions
        .keys
        .issue_access(user.id, &family, sessions.ttl.access)?;
    let refresh = store_refresh(sessions.db, sessions.ttl.refresh, user.id, family).await?;
    Ok(TokenPair {
        access,
        refresh,
        expires_in: sessions.ttl.access.as_secs(),
        user,
    })
}

async fn store_refresh(
    db: &impl sea_orm::ConnectionTrait,
    lifetime: Duration,
    user_id: i32,
    family: String,
) -> AppResult<String> {
    let token = tokens::random_token();
    let now = time::now();
    let ttl = chrono::Duration::from_std(lifetime).map_err(AppError::internal)?;
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
pub async fn refresh(sessions: Sessions<'_>, token: &str) -> AppResult<TokenPair> {
    let invalid = || AppError::Unauthenticated(Msg::BadRefreshToken);
    let now = time::now();
    let Some(row) = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(tokens::hash_refresh(token)))
        .one(sessions.db)
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
    let txn = sessions.db.begin().await?;
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
        revoke_family(sessions.db, &row.family_id).await?;
        tracing::warn!(user_id = row.user_id, "refresh token reuse: family revoked");
        return Err(invalid());
    }
    let user = users::Entity::find_by_id(row.user_id)
        .one(&txn)
        .await?
        .filter(|u| u.is_active)
        .ok_or_else(invalid)?;
    let refresh = store_refresh(&txn, sessions.ttl.refresh, user.id, row.family_id.clone()).await?;
    txn.commit().await?;
    let access = sessions
        .keys
        .issue_access(user.id, &row.family_id, sessions.ttl.access)?;
    Ok(TokenPair {
        access,
        refresh,
        expires_in: sessions.ttl.access.as_secs(),
        user,
    })
}

async fn revoke_family(db: &DatabaseConnection, family: &str) -> AppResult<()> {
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(time::now()))
        .filter(refresh_tokens::Column::FamilyId.eq(family))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
