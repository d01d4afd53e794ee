//! The request timeout, and the one exception to it: work that has started to commit.
//!
//! A response must never report failure for work that was committed. Cancelling a
//! request future half-way through a mutation can leave committed rows behind a 503 (a
//! multipart request with many files committed all but the last one and answered 503),
//! so the rule is: the deadline applies until a request starts to change data; from
//! then on the request runs to completion and answers what really happened. Reading and
//! parsing the body, authentication and queries stay bounded by the deadline; a
//! mutation's own SQL is bounded by PostgreSQL's `statement_timeout` and the pool's
//! acquire timeout, its CPU-heavy steps (image decoding) by their own semaphores.
//!
//! The mark is a task-local flag (`crate::commit`) set by the code that starts the
//! change: the GraphQL extension (`graphql::commit`) when a top-level `Mutation` field
//! begins, and the REST handlers that change data (login, refresh) once their body has
//! been read.
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};
use std::time::Duration;

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};

use crate::error::{AppError, Msg};

pub use crate::commit::begin_commit;

/// A request that has not produced its response in time answers 503 with a code, unless
/// it has begun to commit (see the module comment). The body of a streaming response,
/// such as an export, is not cut.
pub async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    let graphql = req.uri().path() == "/graphql";
    let lang = crate::i18n::Lang::of(req.headers());
    let committing = Arc::new(AtomicBool::new(false));
    let run = crate::commit::scope(committing.clone(), next.run(req));
    tokio::pin!(run);
    // A deadline of zero has passed before anything runs: `tokio::time::timeout` would
    // still poll the request once, and a request answered from caches in that one poll
    // would beat it (the configuration refuses under 2 s; tests use zero).
    let outcome = if limit.is_zero() {
        Err(())
    } else {
        tokio::time::timeout(limit, &mut run).await.map_err(|_| ())
    };
    match outcome {
        Ok(response) => response,
        Err(_) if committing.load(Ordering::SeqCst) => {
            tracing::warn!("past the request timeout: letting a started mutation finish");
            run.await
        }
        Err(_) => {
            let err = AppError::Unavailable(Msg::TookTooLong {
                seconds: limit.as_secs(),
            });
            tracing::warn!("request timed out");
            if graphql {
                // With `Retry-After`, as the REST shim's 503 (`AppError::into_response`).
                super::graphql::app_error_response(lang, &err)
            } else {
                err.response(lang)
            }
        }
    }
}
