//! `GET /api/plans/{id}/file`: a plan's stored file, by signed link (for `<img src>`)
//! or by a bearer token of a user who can see the plan's project. Served like an
//! attachment (exact type, nosniff, sandboxing CSP, RFC 6266 name).
use std::collections::HashMap;

use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
};

use super::{Http, attachments::send_stored, viewer::MaybeViewer};
use crate::{domain::plans::service as plans, error::AppError};

/// The plan's file (also its preview: see `Plan.previewUrl`).
#[utoipa::path(get, path = "/api/plans/{id}/file", tag = "plans",
    params(
        ("id" = String, Path, description = "Plan id"),
        ("exp" = Option<u64>, Query, description = "Link expiry (Unix seconds)"),
        ("sig" = Option<String>, Query, description = "Link signature")
    ),
    responses(
        (status = 200, description = "The file, with its exact Content-Type, nosniff and an RFC 6266 Content-Disposition", content_type = "application/octet-stream"),
        (status = 401, description = "Neither a link signature nor a token", body = super::openapi::ErrorBody),
        (status = 403, description = "Invalid or expired link", body = super::openapi::ErrorBody),
        (status = 404, description = "No such plan, or not visible", body = super::openapi::ErrorBody)
    ),
    security((), ("bearer" = [])))]
pub async fn file(
    State(http): State<Http>,
    Path(raw_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    MaybeViewer(auth): MaybeViewer,
) -> Response {
    serve(&http, &raw_id, &q, auth).await.into_response()
}

async fn serve(
    http: &Http,
    raw_id: &str,
    q: &HashMap<String, String>,
    auth: crate::auth::viewer::Auth,
) -> Result<Response, AppError> {
    let state = &http.state;
    let id = crate::domain::validate::id(crate::error::Msg::PlanNotFound, raw_id)?;
    let row = match super::attachments::signed(q)? {
        Some((exp, sig)) => plans::open_signed(&state.db, &state.links, id, exp, sig).await?,
        None => plans::get(&state.db, auth.viewer()?, id).await?,
    };
    send_stored(
        &state.storage,
        &row.storage_key,
        &row.content_type,
        Some(row.size),
        &row.filename,
    )
    .await
}
