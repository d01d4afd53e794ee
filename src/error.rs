//! One error type whose variants are the contract's codes, each with its message as data
//! (a [`Msg`]: a typed Fluent id and its arguments), put into words only at an edge with
//! the language that edge was given ([`AppError::message`]). `Display` is the English
//! text, for logs and tests; no response is written from it.
//!
//! GraphQL: resolvers convert with `.extend()` (see [`AppError::extend`]); REST: the
//! `IntoResponse` impl gives the status and `{"error":{"code","message"}}`, written by
//! [`RestErrorBody`] alone (the GraphQL shape has its own single writer in
//! `http::graphql::response`).
use std::sync::Arc;

use async_graphql::ErrorExtensions;
use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::{DbErr, SqlErr};
use serde::Serialize;

pub use crate::i18n::{Lang, Msg};

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Unauthenticated(Msg),
    #[error("{0}")]
    Forbidden(Msg),
    #[error("{0}")]
    NotFound(Msg),
    /// The message names the field (its `field` argument): `"title: must not be empty"`.
    #[error("{0}")]
    BadUserInput(Msg),
    #[error("{0}")]
    InvalidTransition(Msg),
    #[error("{0}")]
    Conflict(Msg),
    #[error("{0}")]
    PayloadTooLarge(Msg),
    #[error("{}", Msg::RateLimited { seconds: *retry_after })]
    RateLimited { retry_after: u64 },
    /// Overloaded, out of time, or the database is unreachable; the client may retry.
    #[error("{0}")]
    Unavailable(Msg),
    /// The cause is logged, never shown.
    #[error("{}", Msg::Internal)]
    Internal(Arc<dyn std::error::Error + Send + Sync>),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        AppError::Internal(Arc::new(err))
    }

    /// What the error says, as data.
    pub fn msg(&self) -> Msg {
        match self {
            AppError::Unauthenticated(m)
            | AppError::Forbidden(m)
            | AppError::NotFound(m)
            | AppError::BadUserInput(m)
            | AppError::InvalidTransition(m)
            | AppError::Conflict(m)
            | AppError::PayloadTooLarge(m)
            | AppError::Unavailable(m) => m.clone(),
            AppError::RateLimited { retry_after } => Msg::RateLimited {
                seconds: *retry_after,
            },
            AppError::Internal(_) => Msg::Internal,
        }
    }

    /// The message in `lang`; the code never changes with the language.
    pub fn message(&self, lang: Lang) -> String {
        self.msg().text(lang)
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::BadUserInput(_) => "BAD_USER_INPUT",
            AppError::InvalidTransition(_) => "INVALID_TRANSITION",
            AppError::Conflict(_) => "CONFLICT",
            AppError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            AppError::RateLimited { .. } => "RATE_LIMITED",
            AppError::Unavailable(_) => "SERVICE_UNAVAILABLE",
            AppError::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadUserInput(_) | AppError::InvalidTransition(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn log(&self) {
        if let AppError::Internal(cause) = self {
            tracing::error!(error = %cause, "internal error");
        }
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(detail)) => {
                AppError::BadUserInput(Msg::AlreadyExists {
                    field: unique_field(&detail).to_owned(),
                })
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => AppError::Conflict(Msg::Referenced),
            _ => match err {
                DbErr::ConnectionAcquire(_) => AppError::Unavailable(Msg::DbBusy),
                other => AppError::internal(other),
            },
        }
    }
}

/// Names the column of a unique violation from the driver's message without echoing SQL.
fn unique_field(detail: &str) -> &'static str {
    const FIELDS: [(&str, &str); 5] = [
        ("code_key", "code"),
        ("username", "username"),
        ("email", "email"),
        ("token_hash", "token"),
        ("storage_key", "file"),
    ];
    FIELDS
        .iter()
        .find(|(needle, _)| detail.contains(needle))
        .map(|(_, field)| *field)
        .unwrap_or("value")
}

/// A GraphQL error: the message travels as data (its `source` is the [`Msg`]; the
/// `message` is English until the transport that writes the response puts it into the
/// client's language, `graphql::words`).
impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        self.log();
        async_graphql::Error::new_with_source(self.msg()).extend_with(|_, e| {
            e.set("code", self.code());
            if let AppError::RateLimited { retry_after } = self {
                e.set("retryAfter", *retry_after);
            }
        })
    }
}

/// The REST error body, `{"error":{"code","message"}}`: the one place its shape is
/// written, for our handlers' errors, for axum's own rejections (`http::access`) and for
/// the 503 of the connection limit (`server::refuse`, serialised to raw bytes).
#[derive(Debug, Serialize)]
pub struct RestErrorBody<'a> {
    error: RestError<'a>,
}

#[derive(Debug, Serialize)]
struct RestError<'a> {
    code: &'a str,
    message: &'a str,
}

impl<'a> RestErrorBody<'a> {
    pub fn new(code: &'a str, message: &'a str) -> Self {
        RestErrorBody {
            error: RestError { code, message },
        }
    }

    /// `status` with this body as `application/json`.
    pub fn into_response_with(self, status: StatusCode) -> Response {
        (status, Json(self)).into_response()
    }
}

/// An `AppError` answered by a REST handler, waiting for its words: `IntoResponse` has
/// no request to read the language from, so it leaves the error in the response's
/// extensions and `http::access::json_errors`, which has the request, writes the body in
/// the request's language ([`AppError::response`]).
#[derive(Clone, Debug)]
pub struct Unworded(pub AppError);

impl AppError {
    /// The REST answer in `lang`: the status, `{"error":{"code","message"}}`, and
    /// `Retry-After` for 429 and 503.
    pub fn response(&self, lang: Lang) -> Response {
        let message = self.message(lang);
        let mut response =
            RestErrorBody::new(self.code(), &message).into_response_with(self.status());
        let retry = match self {
            AppError::RateLimited { retry_after } => Some(*retry_after),
            AppError::Unavailable(_) => Some(1),
            _ => None,
        };
        if let Some(secs) = retry
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        // The status now (layers between here and the edge see it); the body at the edge.
        let mut response = self.status().into_response();
        response.extensions_mut().insert(Unworded(self));
        response
    }
}

/// For resolvers: `service(..).await.gql()?` keeps the code.
pub trait GqlResultExt<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResultExt<T> for AppResult<T> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.extend())
    }
}

/// For nullable lookups such as `project(id)`: an object the viewer cannot see is `null`,
/// any other error keeps its code.
pub fn found_or_null<T>(result: AppResult<T>) -> async_graphql::Result<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.extend()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = AppError::internal(DbErr::Custom("SELECT * FROM secret".into()));
        assert_eq!(err.to_string(), "internal server error");
        assert_eq!(err.code(), "INTERNAL_SERVER_ERROR");
        let gql = err.extend();
        assert!(!gql.message.contains("SELECT"));
    }

    #[test]
    fn unique_violation_names_the_field_only() {
        assert_eq!(
            unique_field("duplicate key value violates unique constraint \"users_username_key\""),
            "username"
        );
        assert_eq!(
            unique_field("UNIQUE constraint failed: users.email"),
            "email"
        );
        assert_eq!(unique_field("something else"), "value");
    }

    #[tokio::test]
    async fn rest_errors_have_the_contract_shape() {
        let response = AppError::RateLimited { retry_after: 7 }.response(Lang::En);
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(
            body,
            serde_json::json!({ "error": {
                "code": "RATE_LIMITED",
                "message": "too many failed attempts; retry in 7 s",
            }})
        );
    }

    #[tokio::test]
    async fn rest_errors_wait_for_their_words() {
        let response = AppError::NotFound(Msg::DefectNotFound).into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let Some(Unworded(err)) = response.extensions().get::<Unworded>() else {
            panic!("the error is kept for the edge");
        };
        assert_eq!(err.message(Lang::Ru), "дефект не найден");
        assert_eq!(err.to_string(), "defect not found");
    }

    #[test]
    fn codes_and_statuses_match_the_contract() {
        let cases = [
            (
                AppError::Unauthenticated(Msg::Internal),
                "UNAUTHENTICATED",
                401,
            ),
            (AppError::Forbidden(Msg::Internal), "FORBIDDEN", 403),
            (AppError::NotFound(Msg::Internal), "NOT_FOUND", 404),
            (AppError::BadUserInput(Msg::Internal), "BAD_USER_INPUT", 400),
            (
                AppError::InvalidTransition(Msg::Internal),
                "INVALID_TRANSITION",
                400,
            ),
            (AppError::Conflict(Msg::Internal), "CONFLICT", 409),
            (
                AppError::PayloadTooLarge(Msg::Internal),
                "PAYLOAD_TOO_LARGE",
                413,
            ),
            (
                AppError::RateLimited { retry_after: 3 },
                "RATE_LIMITED",
                429,
            ),
        ];
        for (err, code, status) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.status().as_u16(), status);
        }
    }
}
