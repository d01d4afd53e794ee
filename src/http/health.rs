use std::time::Duration;

use axum::{Json, extract::State, response::IntoResponse};
use serde_json::json;

use super::Http;
use crate::error::AppError;

/// Liveness: the process answers.
pub async fn health() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers within two seconds.
pub async fn ready(State(http): State<Http>) -> Result<Json<serde_json::Value>, AppError> {
    match tokio::time::timeout(Duration::from_secs(2), http.state.db.ping()).await {
        Ok(Ok(())) => Ok(Json(json!({ "status": "ready" }))),
        _ => Err(AppError::Unavailable("the database does not answer".into())),
    }
}
