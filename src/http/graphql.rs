//! `POST /graphql` (JSON or multipart) and `GET /graphql` (GraphiQL, or a query).
pub(super) mod document;
mod idempotent;
mod multipart;
mod response;

use async_graphql::{ParseRequestError, http::MultipartOptions};
use axum::{
    body::Body,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::Response,
};
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, Limited};
use tokio_util::compat::TokioAsyncReadCompatExt;

pub use self::response::MediaType;
use super::Http;
use crate::{
    auth::viewer::{self, Auth, ClientAddr},
    graphql::{
        errors::{self, Phase},
        loaders,
    },
    i18n::{Lang, Msg},
};

/// Defined beside the resolvers that read it (`graphql` may not import `http`); decided here.
pub use crate::graphql::context::PublicOrigin;

impl PublicOrigin {
    pub fn of(config: &crate::config::Config, headers: &HeaderMap) -> Self {
        if let Some(u) = &config.public_url {
            return PublicOrigin(u.clone());
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')
                    })
            });
        PublicOrigin(host.map(|h| format!("http://{h}")).unwrap_or_default())
    }
}

/// Room for the multipart envelope around the largest allowed file.
const ENVELOPE_BYTES: u64 = 1024 * 1024;

/// Files (mapped upload variables) in one multipart request, as docs/security.md documents.
pub const MAX_FILES: usize = 10;

/// A GraphQL-shaped error response for failures outside the executor (`application/json`).
pub fn error_response(lang: Lang, status: StatusCode, code: &str, msg: Msg) -> Response {
    response::said(MediaType::Json, lang, status, code, msg)
}

/// An `AppError` as a GraphQL-shaped response (`application/json`) in `lang`, e.g. the
/// timeout's 503.
pub fn app_error_response(lang: Lang, err: &crate::error::AppError) -> Response {
    response::app_error(MediaType::Json, lang, err)
}

fn too_large(media: MediaType, lang: Lang, what: &'static str) -> Response {
    response::said(
        media,
        lang,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        Msg::RequestLargerThan { limit: what },
    )
}

/// A request as read from the body or the query string, with the SHA-256 of each
/// upload (in `request.uploads` order) when it carries an `Idempotency-Key`.
struct Received {
    request: async_graphql::Request,
    files: Vec<[u8; 32]>,
}

/// Admits the document, then runs it on the schema it belongs to.
async fn execute(
    http: &Http,
    media: MediaType,
    auth: Auth,
    headers: &HeaderMap,
    client: ClientAddr,
    received: Received,
    method_is_get: bool,
) -> Response {
    let Received { mut request, files } = received;
    if request.query.trim().is_empty() {
        // No `query` parameter (or an empty one): not a GraphQL request at all.
        return response::said(
            media,
            Lang::of(headers),
            StatusCode::BAD_REQUEST,
            Phase::Parse.code(),
            Msg::RequestNoQuery,
        );
    }
    let admitted = match document::admit(&mut request).await {
        Ok(a) => a,
        Err(e) => {
            let refused = async_graphql::Response::from_errors(vec![e]);
            return response::graphql(media, Lang::of(headers), refused);
        }
    };
    if method_is_get && admitted.has_mutation {
        let mut res = response::said(
            media,
            Lang::of(headers),
            StatusCode::METHOD_NOT_ALLOWED,
            Phase::Validation.code(),
            Msg::MutationNeedsPost,
        );
        res.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return res;
    }
    // Safe retries: a mutation with an `Idempotency-Key` (queries ignore the header).
    let keyed = if idempotent::runs_mutation(&admitted.doc, request.operation_name.as_deref()) {
        match idempotent::key_of(headers) {
            Ok(key) => key.zip(auth.viewer().ok().map(|v| v.id)),
            Err(e) => return response::app_error(media, Lang::of(headers), &e),
        }
    } else {
        None
    };
    let fingerprint = keyed
        .as_ref()
        .map(|_| idempotent::fingerprint_of(&request, &files));
    let origin = PublicOrigin::of(&http.state.config, headers);
    let mut request = loaders::register(
        request
            .data(auth)
            .data(client)
            .data(origin)
            // Words written into data (bulk and import results' messages).
            .data(Lang::of(headers))
            .data(errors::DocumentChecked),
        &http.state.db,
    );
    // The standard introspection query nests `ofType` deeper than MAX_DEPTH allows; it
    // runs on a schema that answers introspection only, bounded by the document limits.
    let response = match (&http.introspection, admitted.introspection) {
        (Some(schema), true) => {
            request.set_parsed_query(admitted.doc);
            schema.execute(request).await
        }
        // Queries: the safety net's checks here, then the schema without extensions.
        _ if !admitted.has_mutation => {
            errors::execute_checked_query(&http.schemas, request, admitted.doc).await
        }
        _ => {
            request.set_parsed_query(admitted.doc);
            if let (Some((key, user)), Some(fingerprint)) = (keyed, fingerprint) {
                let work = idempotent::Work {
                    db: http.state.db.clone(),
                    schema: http.schemas.full.clone(),
                    request,
                    media,
                    lang: Lang::of(headers),
                    max_answer: http.state.config.idempotency_max_answer_bytes,
                };
                return idempotent::execute(work, user, key, fingerprint).await;
            }
            http.schemas.full.execute(request).await
        }
    };
    response::graphql(media, Lang::of(headers), response)
}

/// What `POST /graphql` accepts, from its `Content-Type`.
enum BodyKind {
    Json,
    Multipart,
}

fn body_kind(headers: &HeaderMap) -> Result<BodyKind, Msg> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(Msg::ContentTypeMissing);
    };
    let value = value.to_str().unwrap_or_default().to_ascii_lowercase();
    let mut parts = value.split(';').map(str::trim);
    let essence = parts.next().unwrap_or_default();
    match essence {
        "application/json" => {
            // JSON is UTF-8 (RFC 8259); a declared charset must say so.
            let charset_ok = parts
                .filter_map(|p| p.strip_prefix("charset="))
                .all(|c| c.trim_matches('"') == "utf-8");
            if charset_ok {
                Ok(BodyKind::Json)
            } else {
                Err(Msg::JsonNotUtf8)
            }
        }
        "multipart/form-data" => Ok(BodyKind::Multipart),
        // text/plain and form posts are what a cross-site page can send without a
        // preflight: they never reach the executor.
        _ => Err(Msg::ContentTypeUnsupported),
    }
}

fn read_error(e: ParseRequestError) -> Msg {
    match e {
        ParseRequestError::InvalidRequest(_) => Msg::BodyNotGraphql,
        ParseRequestError::InvalidFilesMap(_) => Msg::MultipartMapInvalid,
        ParseRequestError::MissingOperatorsPart => Msg::MultipartNoOperations,
        ParseRequestError::MissingMapPart => Msg::MultipartNoMap,
        ParseRequestError::NotUpload => Msg::MultipartNotUpload,
        ParseRequestError::MissingFiles => Msg::MultipartMissingFiles,
        ParseRequestError::UnsupportedBatch => Msg::BatchUnsupported,
        _ => Msg::RequestUnreadable,
    }
}

pub async fn post(
    State(http): State<Http>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let media = MediaType::negotiate(&headers);
    let lang = Lang::of(&headers);
    let kind = match body_kind(&headers) {
        Ok(k) => k,
        Err(msg) => {
            return response::said(
                media,
                lang,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Phase::Parse.code(),
                msg,
            );
        }
    };
    let config = &http.state.config;
    let max_file = config.max_upload_bytes;
    let (limit, limit_name) = match kind {
        BodyKind::Json => (config.max_json_body_bytes, "MAX_JSON_BODY_BYTES"),
        BodyKind::Multipart => (
            max_file
                .saturating_mul(MAX_FILES as u64)
                .saturating_add(ENVELOPE_BYTES),
            "MAX_UPLOAD_BYTES",
        ),
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return too_large(media, lang, limit_name);
    }
    let auth = viewer::resolve(&http.state.db, &http.state.keys, &headers).await;
    if let BodyKind::Multipart = kind
        && let Err(e) = auth.viewer()
    {
        // Uploads need a valid token; the files are not read (nor stored) without one.
        // This also keeps cross-site form posts, which cannot carry the header, out.
        return response::app_error(media, Lang::of(&headers), &e);
    }
    let stream = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX))
        .into_data_stream()
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                std::io::Error::new(std::io::ErrorKind::FileTooLarge, "body too large")
            } else {
                std::io::Error::other(e.to_string())
            }
        });
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let received = match kind {
        BodyKind::Json => {
            let reader = tokio_util::io::StreamReader::new(stream).compat();
            async_graphql::http::receive_body(content_type, reader, MultipartOptions::default())
                .await
                .map(|request| Received {
                    request,
                    files: Vec::new(),
                })
        }
        BodyKind::Multipart => {
            let content_type = content_type.unwrap_or_default();
            let max_text = config.max_json_body_bytes;
            // Files count in an idempotent request's fingerprint by their contents.
            let digest = headers.contains_key(crate::domain::idempotency::HEADER);
            match multipart::receive(stream, &content_type, max_file, max_text, digest).await {
                Ok((request, files)) => Ok(Received { request, files }),
                Err(multipart::Refused::TextTooLarge) => {
                    return too_large(media, lang, "MAX_JSON_BODY_BYTES");
                }
                Err(multipart::Refused::Parse(e)) => Err(e),
            }
        }
    };
    let received = match received {
        Ok(r) => r,
        Err(ParseRequestError::PayloadTooLarge) => return too_large(media, lang, limit_name),
        Err(ParseRequestError::Io(e)) if e.kind() == std::io::ErrorKind::FileTooLarge => {
            return too_large(media, lang, limit_name);
        }
        Err(e) => {
            return response::said(
                media,
                lang,
                StatusCode::BAD_REQUEST,
                Phase::Parse.code(),
                read_error(e),
            );
        }
    };
    // async-graphql's `max_num_files` only sizes the stream limit; the count is ours.
    if received.request.uploads.len() > MAX_FILES {
        return response::said(
            media,
            lang,
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            Msg::TooManyFiles { max: MAX_FILES },
        );
    }
    execute(&http, media, auth, &headers, client, received, false).await
}

/// GraphiQL for a browser; a `?query=` is executed, except mutations, which need POST.
pub async fn get(
    State(http): State<Http>,
    client: ClientAddr,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return super::graphiql::page(&http.state.config, &headers);
    };
    let media = MediaType::negotiate(&headers);
    let request = match async_graphql::http::parse_query_string(&query) {
        Ok(r) => r,
        Err(_) => {
            return response::said(
                media,
                Lang::of(&headers),
                StatusCode::BAD_REQUEST,
                Phase::Parse.code(),
                Msg::QueryStringInvalid,
            );
        }
    };
    let auth = viewer::resolve(&http.state.db, &http.state.keys, &headers).await;
    let received = Received {
        request,
        files: Vec::new(),
    };
    execute(&http, media, auth, &headers, client, received, true).await
}
