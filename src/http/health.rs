use crate::i18n::Msg;
use std::time::Duration;

use axum::{Json, extract::State, response::IntoResponse};
use serde_json::json;

use super::Http;
use crate::error::AppError;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "Alive", body = super::openapi::StatusBody)))]
pub async fn health() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers within 2 s and local storage can be written.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = super::openapi::StatusBody),
        (status = 503, description = "The database does not answer, or the storage directory cannot be written", body = super::openapi::ErrorBody)
    ))]
pub async fn ready(State(http): State<Http>) -> Result<Json<serde_json::Value>, AppError> {
    match tokio::time::timeout(Duration::from_secs(2), http.state.db.ping()).await {
        Ok(Ok(())) => {}
        _ => return Err(AppError::Unavailable(Msg::DbDown)),
    }
    http.state
        .storage
        .check_writable()
        .await
        .map_err(|detail| AppError::Unavailable(Msg::StorageUnavailable { detail }))?;
    Ok(Json(json!({ "status": "ready" })))
}
