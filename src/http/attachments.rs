//! `GET /api/attachments/{id}/file` and `/thumbnail`: a signed link (for `<img src>`) or
//! a bearer token. Streams from storage with the exact type and a safe disposition.
use crate::i18n::Msg;
use std::collections::HashMap;

use super::{Http, viewer::MaybeViewer};
use crate::{domain::defects::attachments, error::AppError, storage::FileKind};
use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The stored file. Authorised by the signed link from GraphQL (`exp` and `sig`, no
/// header needed) or by a bearer token of a user who can see the defect.
#[utoipa::path(get, path = "/api/attachments/{id}/file", tag = "attachments",
    params(
        ("id" = String, Path, description = "Attachment id"),
        ("exp" = Option<u64>, Query, description = "Link expiry (Unix seconds)"),
        ("sig" = Option<String>, Query, description = "Link signature")
    ),
    responses(
        (status = 200, description = "The file, with its exact Content-Type, nosniff and an RFC 6266 Content-Disposition", content_type = "application/octet-stream"),
        (status = 401, description = "Neither a link signature nor a token", body = super::openapi::ErrorBody),
        (status = 403, description = "Invalid or expired link", body = super::openapi::ErrorBody),
        (status = 404, description = "No such attachment, or not visible", body = super::openapi::ErrorBody)
    ),
    security((), ("bearer" = [])))]
pub async fn file(
    http: State<Http>,
    id: Path<String>,
    q: Query<HashMap<String, String>>,
    auth: MaybeViewer,
) -> Response {
    serve(http, id, q, auth, FileKind::Original)
        .await
        .into_response()
}

/// An image attachment's JPEG thumbnail (at most 320 px a side); authorised like `file`.
#[utoipa::path(get, path = "/api/attachments/{id}/thumbnail", tag = "attachments",
    params(
        ("id" = String, Path, description = "Attachment id"),
        ("exp" = Option<u64>, Query, description = "Link expiry (Unix seconds)"),
        ("sig" = Option<String>, Query, description = "Link signature")
    ),
    responses(
        (status = 200, description = "The thumbnail", content_type = "image/jpeg"),
        (status = 401, description = "Neither a link signature nor a token", body = super::openapi::ErrorBody),
        (status = 403, description = "Invalid or expired link", body = super::openapi::ErrorBody),
        (status = 404, description = "No such attachment or no thumbnail", body = super::openapi::ErrorBody)
    ),
    security((), ("bearer" = [])))]
pub async fn thumbnail(
    http: State<Http>,
    id: Path<String>,
    q: Query<HashMap<String, String>>,
    auth: MaybeViewer,
) -> Response {
    serve(http, id, q, auth, FileKind::Thumbnail)
        .await
        .into_response()
}

/// A download's access: a signed link (`exp` and `sig`: `Some`), or neither (`None`: the
/// caller's token decides); one without the other is FORBIDDEN. An unreadable expiry is
/// an expired one.
pub(super) fn signed(q: &HashMap<String, String>) -> Result<Option<(u64, &str)>, AppError> {
    match (q.get("exp"), q.get("sig")) {
        (Some(exp), Some(sig)) => Ok(Some((exp.parse::<u64>().unwrap_or(0), sig.as_str()))),
        (None, None) => Ok(None),
        _ => Err(AppError::Forbidden(Msg::BadLink)),
    }
}

async fn serve(
    State(http): State<Http>,
    Path(raw_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    MaybeViewer(auth): MaybeViewer,
    kind: FileKind,
) -> Result<Response, AppError> {
    let state = &http.state;
    let id = crate::domain::validate::id(crate::error::Msg::AttachmentNotFound, &raw_id)?;
    let row = match signed(&q)? {
        Some((exp, sig)) => {
            attachments::open_signed(&state.db, &state.links, id, kind, exp, sig).await?
        }
        None => attachments::get(&state.db, auth.viewer()?, id).await?.0,
    };
    let (key, content_type, length) = match kind {
        FileKind::Original => (
            row.storage_key.clone(),
            row.content_type.clone(),
            Some(row.size),
        ),
        FileKind::Thumbnail => (
            row.thumbnail_key
                .clone()
                .ok_or_else(|| AppError::NotFound(Msg::ThumbnailNotFound))?,
            "image/jpeg".to_owned(),
            None,
        ),
    };
    let name = match kind {
        FileKind::Original => row.filename.clone(),
        FileKind::Thumbnail => format!("thumbnail-{}.jpg", row.id),
    };
    send_stored(&state.storage, &key, &content_type, length, &name).await
}

/// Streams a stored object with its exact type, `nosniff`, a sandboxing CSP, a short
/// private cache and an RFC 6266 disposition (attachments and plans alike).
pub(super) async fn send_stored(
    storage: &crate::storage::Storage,
    key: &str,
    content_type: &str,
    length: Option<i64>,
    name: &str,
) -> Result<Response, AppError> {
    let stream = storage.get_stream(key).await.map_err(|e| match e.0 {
        object_store::Error::NotFound { .. } => AppError::NotFound(Msg::FileNotFound),
        _ => AppError::internal(e),
    })?;
    let mut response = Body::from_stream(stream).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).map_err(AppError::internal)?,
    );
    if let Some(len) = length {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    h.insert(header::CONTENT_DISPOSITION, content_disposition(name)?);
    Ok(response)
}

/// RFC 5987 `attr-char`: everything else is percent-encoded.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `inline; filename="ascii fallback"; filename*=UTF-8''percent-encoded` (RFC 6266), so
/// Cyrillic names survive and no byte of the name can break the header.
fn content_disposition(name: &str) -> Result<HeaderValue, AppError> {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = utf8_percent_encode(name, ATTR_CHAR);
    HeaderValue::from_str(&format!(
        "inline; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    ))
    .map_err(AppError::internal)
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn dispositions_carry_an_ascii_fallback_and_the_utf8_name() {
        let v = content_disposition("фото \"1\".jpg").unwrap();
        assert_eq!(
            v.to_str().unwrap(),
            "inline; filename=\"____ _1_.jpg\"; filename*=UTF-8''%D1%84%D0%BE%D1%82%D0%BE%20%221%22.jpg"
        );
        let v = content_disposition("report.pdf").unwrap();
        assert_eq!(
            v.to_str().unwrap(),
            "inline; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
    }
}
