//! REST login and refresh, for clients that do not speak GraphQL yet.
use crate::i18n::Msg;
use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
};
use serde::{Deserialize, Serialize};

use super::Http;
use crate::{
    auth::{service, viewer::ClientAddr},
    error::AppError,
};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    username: String,
    password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefreshBody {
    refresh: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// A JWT for `Authorization: Bearer`.
    access: String,
    /// Opaque; single use (each refresh returns a new one).
    refresh: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until `access` expires.
    expires_in: u64,
}

impl From<service::TokenPair> for TokenResponse {
    fn from(p: service::TokenPair) -> Self {
        TokenResponse {
            access: p.access,
            refresh: p.refresh,
            token_type: "Bearer",
            expires_in: p.expires_in,
        }
    }
}

/// Login and refresh bodies are a few hundred bytes; anything near this is abuse, and is
/// refused before it is buffered (the routes carry a `DefaultBodyLimit` of this size).
pub const BODY_LIMIT: usize = 16 * 1024;

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, AppError> {
    let b = body.map(|Json(b)| b).map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge(Msg::BodyTooLarge { limit: BODY_LIMIT })
        } else {
            AppError::BadUserInput(Msg::Unreadable {
                field: "body".into(),
                detail: e.body_text(),
            })
        }
    })?;
    // Both endpoints write (failure counters, token rotation): once the body is read they
    // run to completion rather than answer 503 over a committed rotation.
    super::deadline::begin_commit();
    Ok(b)
}

/// Exchange a username and password for tokens. The same 401 answers an unknown user,
/// a wrong password and an inactive user; repeated failures answer 429 with Retry-After.
#[utoipa::path(post, path = "/api/auth/login/", tag = "auth", request_body = LoginBody,
    responses(
        (status = 200, description = "Tokens", body = TokenResponse),
        (status = 400, description = "Malformed body", body = super::openapi::ErrorBody),
        (status = 401, description = "Bad credentials", body = super::openapi::ErrorBody),
        (status = 413, description = "Body over 16 KiB", body = super::openapi::ErrorBody),
        (status = 429, description = "Too many failed attempts", body = super::openapi::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "Too many sign-ins at once", body = super::openapi::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait")))
    ))]
pub async fn login(
    State(http): State<Http>,
    client: ClientAddr,
    payload: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Json<TokenResponse>, AppError> {
    let b = body(payload)?;
    let pair = service::login(
        http.state.sessions(),
        http.state.login_guard(),
        &b.username,
        &b.password,
        &client.0,
    )
    .await?;
    Ok(Json(pair.into()))
}

/// Rotate a refresh token: returns a new pair; the given token is refused from now on,
/// and presenting it again revokes every token of that login.
#[utoipa::path(post, path = "/api/auth/refresh/", tag = "auth", request_body = RefreshBody,
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 400, description = "Malformed body", body = super::openapi::ErrorBody),
        (status = 401, description = "Unknown, expired, used or revoked token", body = super::openapi::ErrorBody)
    ))]
pub async fn refresh(
    State(http): State<Http>,
    payload: Result<Json<RefreshBody>, JsonRejection>,
) -> Result<Json<TokenResponse>, AppError> {
    let b = body(payload)?;
    Ok(Json(
        service::refresh(http.state.sessions(), &b.refresh)
            .await?
            .into(),
    ))
}
