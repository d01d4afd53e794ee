//! `POST /graphql` (JSON or multipart) and `GET /graphql` (GraphiQL, or a query).
use async_graphql::{
    ParseRequestError,
    http::{GraphiQLSource, MultipartOptions},
    parser::types::OperationType,
};
use async_graphql_axum::GraphQLResponse;
use axum::{
    body::Body,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, Limited};
use serde_json::json;
use tokio_util::compat::TokioAsyncReadCompatExt;

use super::Http;
use crate::{
    auth::viewer::{self, ClientAddr},
    graphql::loaders,
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

/// A GraphQL-shaped error response for failures outside the executor.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })),
    )
        .into_response()
}

fn too_large() -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        "the request is larger than MAX_UPLOAD_BYTES allows",
    )
}

async fn execute(
    http: &Http,
    headers: &HeaderMap,
    client: ClientAddr,
    request: async_graphql::Request,
) -> Response {
    let auth = viewer::resolve(&http.state, headers).await;
    let origin = PublicOrigin::of(&http.state.config, headers);
    let request = loaders::register(request.data(auth).data(client).data(origin), &http.state.db);
    GraphQLResponse::from(http.schema.execute(request).await).into_response()
}

pub async fn post(
    State(http): State<Http>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let max_file = http.state.config.max_upload_bytes;
    let limit = max_file.saturating_add(ENVELOPE_BYTES);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return too_large();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let stream = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX))
        .into_data_stream()
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                std::io::Error::new(std::io::ErrorKind::FileTooLarge, "body too large")
            } else {
                std::io::Error::other(e.to_string())
            }
        });
    let reader = tokio_util::io::StreamReader::new(stream).compat();
    let options = MultipartOptions::default()
        .max_file_size(usize::try_from(max_file).unwrap_or(usize::MAX))
        .max_num_files(10);
    let request = match async_graphql::http::receive_body(content_type, reader, options).await {
        Ok(r) => r,
        Err(ParseRequestError::PayloadTooLarge) => return too_large(),
        Err(ParseRequestError::Io(e)) if e.kind() == std::io::ErrorKind::FileTooLarge => {
            return too_large();
        }
        Err(e) => {
            let message = match e {
                ParseRequestError::InvalidRequest(_) => {
                    "the body is not a valid GraphQL request".to_owned()
                }
                ParseRequestError::InvalidFilesMap(_) => "the multipart map is invalid".to_owned(),
                ParseRequestError::MissingOperatorsPart => {
                    "the multipart body has no operations part".to_owned()
                }
                ParseRequestError::MissingMapPart => {
                    "the multipart body has no map part".to_owned()
                }
                ParseRequestError::NotUpload => {
                    "the multipart map points at a non-file field".to_owned()
                }
                ParseRequestError::MissingFiles => {
                    "the multipart map names missing files".to_owned()
                }
                ParseRequestError::UnsupportedBatch => {
                    "batched requests are not supported".to_owned()
                }
                _ => "the request could not be read".to_owned(),
            };
            return error_response(StatusCode::BAD_REQUEST, "GRAPHQL_PARSE_FAILED", &message);
        }
    };
    execute(&http, &headers, client, request).await
}

/// GraphiQL for a browser; a `?query=` is executed, except mutations, which need POST.
pub async fn get(
    State(http): State<Http>,
    client: ClientAddr,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        if !http.state.config.graphiql {
            return error_response(StatusCode::NOT_FOUND, "NOT_FOUND", "GraphiQL is disabled");
        }
        return Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response();
    };
    let mut request = match async_graphql::http::parse_query_string(&query) {
        Ok(r) => r,
        Err(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "GRAPHQL_PARSE_FAILED",
                "the query string is not a valid GraphQL request",
            );
        }
    };
    // `parsed_query` keeps the document on the request, so the executor does not parse
    // it a second time; a document that does not parse fails there, with its code.
    if let Ok(doc) = request.parsed_query() {
        let mutation = doc
            .operations
            .iter()
            .any(|(_, op)| op.node.ty != OperationType::Query);
        if mutation {
            let mut response = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "GRAPHQL_VALIDATION_FAILED",
                "mutations must be sent with POST",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
            return response;
        }
    }
    execute(&http, &headers, client, request).await
}
