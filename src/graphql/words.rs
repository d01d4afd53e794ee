//! The words of a GraphQL response's errors in the client's language: what every GraphQL
//! transport (HTTP, WebSocket) calls once on each response it writes, with the language
//! it was given. Our errors carry their message as data (the error's `source` is a
//! [`Msg`]: `AppError::extend`, `errors::said`); the engine's own parse and validation
//! errors, which carry none, are put into our words by their code, their precise text
//! kept as the detail.
use async_graphql::{Response, ServerError, Value};

use crate::i18n::{Lang, Msg};

/// Every error of `response` in `lang`.
pub fn response(mut response: Response, lang: Lang) -> Response {
    for err in &mut response.errors {
        error(err, lang);
    }
    response
}

/// One error in `lang`.
pub fn error(err: &mut ServerError, lang: Lang) {
    if let Some(msg) = err.source::<Msg>() {
        err.message = msg.text(lang);
        return;
    }
    let code = err
        .extensions
        .as_ref()
        .and_then(|e| e.get("code"))
        .and_then(|c| match c {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        });
    let detail = std::mem::take(&mut err.message);
    let msg = match code {
        Some("GRAPHQL_PARSE_FAILED") => Msg::GraphqlParseFailed { detail },
        Some("GRAPHQL_VALIDATION_FAILED") => Msg::GraphqlInvalid { detail },
        _ => {
            // Not an error without a message of ours should reach here (`errors::scrub`
            // codes and scrubs every other); left as it is.
            err.message = detail;
            return;
        }
    };
    err.message = msg.text(lang);
    err.source = Some(std::sync::Arc::new(msg));
}
