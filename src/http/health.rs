use crate::i18n::Msg;
use std::time::Duration;

use axum::{Json, extract::State, response::IntoResponse};
use serde_json::json;

use super::Http;
use crate::{db, error::AppError};

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "Alive", body = super::openapi::StatusBody)))]
pub async fn health() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers within 2 s and takes writes, and local storage can
/// be written.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = super::openapi::StatusBody),
        (status = 503, description = "The database does not answer or is read-only, or the storage directory cannot be written", body = super::openapi::ErrorBody)
    ))]
pub async fn ready(State(http): State<Http>) -> Result<Json<serde_json::Value>, AppError> {
    http.state.ready.outcome(|| probe(&http)).await?;
    Ok(Json(json!({ "status": "ready" })))
}

async fn probe(http: &Http) -> Result<(), AppError> {
    // A database that answers reads but refuses writes (a read-only file, a standby)
    // would let every login fail with 500 behind a "ready": the probe asks for a write.
    match tokio::time::timeout(Duration::from_secs(2), db::writable(&http.state.db)).await {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => return Err(AppError::Unavailable(Msg::DbReadOnly)),
        _ => return Err(AppError::Unavailable(Msg::DbDown)),
    }
    http.state
        .storage
        .check_writable()
        .await
        .map_err(|detail| AppError::Unavailable(Msg::StorageUnavailable { detail }))
}
