//! REST login and refresh, for clients that do not speak GraphQL yet.
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

#[derive(Deserialize)]
pub struct LoginBody {
    username: String,
    password: String,
}

#[derive(Deserialize)]
pub struct RefreshBody {
    refresh: String,
}

#[derive(Serialize)]
pub struct TokenResponse {
    access: String,
    refresh: String,
    token_type: &'static str,
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

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, AppError> {
    body.map(|Json(b)| b)
        .map_err(|e| AppError::bad_input("body", e.body_text()))
}

pub async fn login(
    State(http): State<Http>,
    client: ClientAddr,
    payload: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Json<TokenResponse>, AppError> {
    let b = body(payload)?;
    let pair = service::login(&http.state, &b.username, &b.password, &client.0).await?;
    Ok(Json(pair.into()))
}

pub async fn refresh(
    State(http): State<Http>,
    payload: Result<Json<RefreshBody>, JsonRejection>,
) -> Result<Json<TokenResponse>, AppError> {
    let b = body(payload)?;
    Ok(Json(
        service::refresh(&http.state, &b.refresh).await?.into(),
    ))
}
