//! `GET /api/documents/{id}/file`: a document job's file, by the signed link of
//! `DocumentJob.url` (no token: a browser can follow it).
use std::collections::HashMap;

use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
};

use super::{Http, attachments::send_stored};
use crate::{domain::documents::jobs, error::AppError, i18n::Msg};

/// The document of a finished job, while it is kept.
#[utoipa::path(get, path = "/api/documents/{id}/file", tag = "reports",
    params(
        ("id" = String, Path, description = "Document job id"),
        ("exp" = u64, Query, description = "Link expiry (Unix seconds)"),
        ("sig" = String, Query, description = "Link signature")
    ),
    responses(
        (status = 200, description = "The file (CSV, XLSX or PDF)", content_type = "application/octet-stream"),
        (status = 403, description = "No, an invalid or an expired link", body = super::openapi::ErrorBody),
        (status = 404, description = "No such job, or its file is no longer kept", body = super::openapi::ErrorBody)
    ))]
pub async fn file(
    State(http): State<Http>,
    Path(raw_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    serve(&http, &raw_id, &q).await.into_response()
}

async fn serve(
    http: &Http,
    raw_id: &str,
    q: &HashMap<String, String>,
) -> Result<Response, AppError> {
    let state = &http.state;
    let Some((exp, sig)) = super::attachments::signed(q)? else {
        return Err(AppError::Forbidden(Msg::BadLink));
    };
    let id = raw_id
        .parse::<i64>()
        .map_err(|_| AppError::NotFound(Msg::FileNotFound))?;
    let file = jobs::open_signed(&state.db, &state.links, id, exp, sig).await?;
    send_stored(
        &state.storage,
        &file.key,
        file.content_type,
        None,
        &file.filename,
    )
    .await
}
