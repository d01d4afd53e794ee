//! Request ids and the access log, and a JSON body for every error response.
use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue, StatusCode, header},
    middleware::Next,
    response::Response,
};
use http_body_util::BodyExt;

use crate::error::{AppError, Lang, Msg, RestErrorBody, Unworded};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client's request id is kept only if it is a short token of safe characters;
/// anything else (newlines, quotes, ANSI escapes, a kilobyte of text) could forge or
/// garble log lines, so it is dropped and a fresh id is generated in its place.
pub fn acceptable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Runs before `SetRequestIdLayer`, which then fills in a fresh id where this removed one.
pub async fn screen_request_id(mut req: Request, next: Next) -> Response {
    let bad = req
        .headers()
        .get_all(REQUEST_ID)
        .iter()
        .enumerate()
        .any(|(i, v)| i > 0 || !acceptable_request_id(v));
    if bad {
        req.headers_mut().remove(REQUEST_ID);
    }
    next.run(req).await
}

/// The REST edge's words, and a body for the errors axum writes itself. An `AppError` a
/// handler returned (`error::Unworded`) is written here, in the REST shape and the language the request's
/// `Accept-Language` asks for (`crate::i18n`). Error bodies that axum writes itself (405
/// for a wrong method, extractor rejections in plain text, an empty 413) get the
/// contract's shape: `{"error":{"code","message"}}` on the REST shim,
/// `{"errors":[{"message","extensions":{"code"}}]}` on `/graphql`. Other responses that
/// are already JSON pass untouched.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let graphql = req.uri().path().starts_with("/graphql");
    let method = req.method().clone();
    let lang = Lang::of(req.headers());
    let mut response = next.run(req).await;
    if let Some(Unworded(err)) = response.extensions_mut().remove::<Unworded>() {
        // In the REST shape wherever it was returned (as before: `/graphql` writes its
        // own errors, `/graphql/assets` and `/graphql/ws` answer like the REST shim).
        let (mut parts, _) = response.into_parts();
        let (fresh, body) = err.response(lang).into_parts();
        parts.status = fresh.status;
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.extend(fresh.headers);
        return Response::from_parts(parts, body);
    }
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Rejection texts are short; anything longer is not shown.
    let text = match http_body_util::Limited::new(body, 1024).collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).trim().to_owned(),
        Err(_) => String::new(),
    };
    let msg = match status {
        // axum adds the `Allow` header after this layer has run.
        StatusCode::METHOD_NOT_ALLOWED => Msg::MethodNotAllowed {
            method: method.to_string(),
        },
        StatusCode::PAYLOAD_TOO_LARGE => Msg::RequestTooLarge,
        _ if text.is_empty() || text.chars().any(char::is_control) => Msg::RequestRefused {
            detail: status
                .canonical_reason()
                .unwrap_or("request failed")
                .to_lowercase(),
        },
        _ => Msg::RequestRefused { detail: text },
    };
    let code = code_for(status);
    let fresh = if graphql {
        super::graphql::error_response(lang, status, code, msg)
    } else {
        RestErrorBody::new(code, &msg.text(lang)).into_response_with(status)
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, fresh.into_body())
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        // `/graphql` answers request errors as `application/graphql-response+json` with
        // 400 when the client asks for it (GraphQL over HTTP): already the right shape.
        .is_some_and(|v| {
            v.starts_with("application/json") || v.starts_with("application/graphql-response+json")
        })
}

/// The contract's code for a status produced outside our handlers.
fn code_for(status: StatusCode) -> &'static str {
    let err = match status {
        StatusCode::UNAUTHORIZED => AppError::Unauthenticated(Msg::Internal),
        StatusCode::FORBIDDEN => AppError::Forbidden(Msg::Internal),
        StatusCode::NOT_FOUND => AppError::NotFound(Msg::Internal),
        StatusCode::CONFLICT => AppError::Conflict(Msg::Internal),
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(Msg::Internal),
        StatusCode::TOO_MANY_REQUESTS => AppError::RateLimited { retry_after: 1 },
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => {
            AppError::Unavailable(Msg::Internal)
        }
        s if s.is_server_error() => return "INTERNAL_SERVER_ERROR",
        // 400, 405, 406, 411, 415, 422 …: the request itself is wrong.
        _ => AppError::BadUserInput(Msg::Internal),
    };
    err.code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_short_safe_tokens() {
        for ok in ["abc", "0f8c-12.ab_C", &"a".repeat(64)] {
            assert!(
                acceptable_request_id(&HeaderValue::from_str(ok).unwrap()),
                "{ok}"
            );
        }
        for bad in [
            "",
            "a b",
            "x\"y",
            "a;b",
            "\u{1b}[31mred",
            &"a".repeat(65),
            "id=1 level=error",
        ] {
            let Ok(v) = HeaderValue::from_str(bad) else {
                continue;
            };
            assert!(!acceptable_request_id(&v), "{bad:?}");
        }
        assert!(!acceptable_request_id(
            &HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap()
        ));
    }

    #[test]
    fn statuses_map_to_contract_codes() {
        assert_eq!(code_for(StatusCode::METHOD_NOT_ALLOWED), "BAD_USER_INPUT");
        assert_eq!(
            code_for(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            "BAD_USER_INPUT"
        );
        assert_eq!(code_for(StatusCode::PAYLOAD_TOO_LARGE), "PAYLOAD_TOO_LARGE");
        assert_eq!(code_for(StatusCode::BAD_GATEWAY), "INTERNAL_SERVER_ERROR");
        assert_eq!(code_for(StatusCode::NOT_FOUND), "NOT_FOUND");
    }
}
