//! Every answer of `/graphql` is written here, so the media type, the status and the
//! shape of an error follow one rule (GraphQL over HTTP, as `graphql-http`'s audit checks).
use async_graphql::ServerError;
use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::{
    graphql::errors,
    i18n::{Lang, Msg},
};

const JSON: &str = "application/json; charset=utf-8";
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json; charset=utf-8";

/// What the client accepts. `application/graphql-response+json` lets the status carry
/// the outcome (400 for a request that never ran); `application/json` is always 200 for
/// a well-formed request, as legacy clients expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    Json,
    GraphQLResponse,
}

impl MediaType {
    /// The client's most preferred of the two; `application/json` when it names neither
    /// (or sends no `Accept`), as the spec asks.
    pub fn negotiate(headers: &HeaderMap) -> Self {
        let mut ranges: Vec<(f32, usize, MediaType)> = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .enumerate()
            .filter_map(|(i, range)| {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next()?.to_ascii_lowercase();
                let q = parts
                    .filter_map(|p| p.strip_prefix("q="))
                    .find_map(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                let kind = match media.as_str() {
                    "application/graphql-response+json" => MediaType::GraphQLResponse,
                    "application/json" | "application/*" | "*/*" => MediaType::Json,
                    _ => return None,
                };
                (q > 0.0).then_some((q, i, kind))
            })
            .collect();
        // Highest q first; among equals, the order the client listed them.
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranges.first().map_or(MediaType::Json, |r| r.2)
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            MediaType::Json => JSON,
            MediaType::GraphQLResponse => GRAPHQL_RESPONSE,
        })
    }
}

#[derive(Serialize)]
struct Body_<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

/// A request error: nothing was executed (the document did not parse or validate, or
/// the variables did not coerce). Errors from execution always carry a path.
fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// The executor's response. A request error has no `data` entry (GraphQL spec) and, under
/// `application/graphql-response+json`, status 400.
pub fn graphql(media: MediaType, lang: Lang, response: async_graphql::Response) -> Response {
    let response = crate::graphql::words::response(response, lang);
    let request_error = is_request_error(&response);
    let status = if request_error && media == MediaType::GraphQLResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = Body_ {
        data: (!request_error).then_some(&response.data),
        errors: &response.errors,
        extensions: &response.extensions,
    };
    let mut res = write(media, status, &body);
    if response.errors.is_empty()
        && let Some(value) = response.cache_control.value()
        && let Ok(value) = HeaderValue::from_str(&value)
    {
        res.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    res.headers_mut().extend(response.http_headers);
    res
}

/// A failure outside the executor (body too large, wrong content type, …) saying `msg`
/// in `lang`: the status says what happened, the body is GraphQL-shaped with a contract
/// code. There is no way to answer here with words that are not a message id.
pub fn said(media: MediaType, lang: Lang, status: StatusCode, code: &str, msg: Msg) -> Response {
    let mut err = errors::said(msg, code);
    crate::graphql::words::error(&mut err, lang);
    written(media, status, code, err)
}

fn written(media: MediaType, status: StatusCode, code: &str, err: ServerError) -> Response {
    let body = Body_ {
        data: None,
        errors: std::slice::from_ref(&err),
        extensions: &Default::default(),
    };
    let mut res = write(media, status, &body);
    if code == "SERVICE_UNAVAILABLE" {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    res
}

/// An `AppError` met outside the executor (a refused upload, the request timeout), in
/// the GraphQL shape with the status the REST shim would give it.
pub fn app_error(media: MediaType, lang: Lang, err: &crate::error::AppError) -> Response {
    said(media, lang, err.status(), err.code(), err.msg())
}

fn write(media: MediaType, status: StatusCode, body: &Body_<'_>) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(header::CONTENT_TYPE, media.content_type())],
            Body::from(bytes),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a GraphQL response could not be serialized");
            // Through the same writer: a fixed message and code always serialise (an empty
            // body would still carry the status).
            let err = errors::internal();
            let fallback = Body_ {
                data: None,
                errors: std::slice::from_ref(&err),
                extensions: &Default::default(),
            };
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, media.content_type())],
                Body::from(serde_json::to_vec(&fallback).unwrap_or_default()),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> MediaType {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).expect("header"));
        MediaType::negotiate(&h)
    }

    #[test]
    fn accept_picks_the_preferred_known_type() {
        assert_eq!(MediaType::negotiate(&HeaderMap::new()), MediaType::Json);
        assert_eq!(accept("application/json"), MediaType::Json);
        assert_eq!(accept("*/*"), MediaType::Json);
        assert_eq!(accept("text/html"), MediaType::Json);
        assert_eq!(
            accept("application/graphql-response+json"),
            MediaType::GraphQLResponse
        );
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9"),
            MediaType::GraphQLResponse
        );
        assert_eq!(
            accept("application/graphql-response+json;q=0.5, application/json"),
            MediaType::Json
        );
    }
}
