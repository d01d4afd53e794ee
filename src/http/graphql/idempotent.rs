//! Safe retries on `/graphql` (FIELD.md, "Safe retries"; the rules and their reasons in
//! `domain::idempotency`). A request that runs a mutation and carries an
//! `Idempotency-Key` is looked up by its user and key before it runs: the first one does
//! the work, a repeat gets the first answer (status, media type and body as sent then,
//! whatever its own `Accept` or language), a different request under the key `422
//! BAD_USER_INPUT`, a repeat while the first runs `409 CONFLICT` with `Retry-After`, as
//! the draft asks. Only a request with a valid token is keyed: the key is the user's,
//! and an anonymous request (`login`) has no user to scope it to.
//!
//! **Detached from the connection.** The keyed work runs on a task of its own, so a
//! client that hangs up half-way (the case the header exists for) does not cancel it
//! between its commit and the stored answer; the retry then gets that answer. The
//! request deadline's rule still holds (`http::deadline`): the task runs inside the
//! request's commit mark, and if the request is given up (deadline or hang-up) before
//! its first mutation field began, the task stops and gives the key back — nothing was
//! changed, so a repeat is a first request. (The deadline reads the mark on its own
//! thread: a 503 that races with the first field's start can precede work that then
//! completes; the client's retry, which a 503 asks for, gets that work's answer.)
//! While it works it renews the key's lease
//! (`domain::idempotency::HEARTBEAT`); only a process that dies leaves the key to be
//! taken over when the lease runs out.
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_graphql::{
    Value,
    parser::types::{DocumentOperations, ExecutableDocument, OperationType},
};
use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::DatabaseConnection;

use super::response::{self, MediaType};
use crate::{
    domain::idempotency::{
        self, Fingerprint, HEADER, Key, fingerprint,
        store::{self, Attempt, Begin},
    },
    error::AppError,
    graphql::AppSchema,
    i18n::{Lang, Msg},
};

/// The prefix async-graphql writes in an upload's variable (`Request::set_upload`).
const UPLOAD_PLACEHOLDER: &str = "#__graphql_file__:";

/// The request's `Idempotency-Key`: `None` when absent; a malformed one, or the header
/// sent twice, is refused.
pub(super) fn key_of(headers: &HeaderMap) -> Result<Option<Key>, AppError> {
    let mut values = headers.get_all(HEADER).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(idempotency::key::invalid());
    }
    Key::parse(first.as_bytes()).map(Some)
}

/// Whether the operation the request runs is a mutation (a document may hold queries
/// beside it; `operationName` picks one). Queries ignore the header.
pub(super) fn runs_mutation(doc: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    let ty = match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, op)| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        _ => None,
    };
    ty == Some(OperationType::Mutation)
}

/// The request's fingerprint; `files` are the uploads' digests, in `request.uploads`
/// order (empty for JSON).
pub(super) fn fingerprint_of(request: &async_graphql::Request, files: &[[u8; 32]]) -> Fingerprint {
    let mut variables = serde_json::to_value(&request.variables).unwrap_or_default();
    put_files(&mut variables, request, files);
    fingerprint::of(
        &request.query,
        request.operation_name.as_deref(),
        &variables,
    )
}

/// Each upload's place in the variables gets what identifies the file (the placeholder
/// names only its position in the body).
fn put_files(value: &mut serde_json::Value, request: &async_graphql::Request, files: &[[u8; 32]]) {
    match value {
        serde_json::Value::String(s) => {
            let upload = s
                .strip_prefix(UPLOAD_PLACEHOLDER)
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| Some((request.uploads.get(n)?, files.get(n)?)));
            if let Some((upload, sha)) = upload {
                *value = fingerprint::file(&upload.filename, upload.content_type.as_deref(), sha);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                put_files(item, request, files);
            }
        }
        serde_json::Value::Object(map) => {
            for item in map.values_mut() {
                put_files(item, request, files);
            }
        }
        _ => {}
    }
}

/// What the keyed request runs on.
pub(super) struct Work {
    pub db: DatabaseConnection,
    pub schema: AppSchema,
    /// Ready to execute: its data registered and its parsed document set.
    pub request: async_graphql::Request,
    pub media: MediaType,
    pub lang: Lang,
    /// `IDEMPOTENCY_MAX_ANSWER_BYTES`.
    pub max_answer: usize,
}

/// Runs `work` once for `user` and `key`, or answers as an earlier request with the key
/// decides.
pub(super) async fn execute(work: Work, user: i32, key: Key, fingerprint: Fingerprint) -> Response {
    let (media, lang) = (work.media, work.lang);
    let attempt = match store::begin(&work.db, user, &key, &fingerprint).await {
        Ok(Begin::Run(attempt)) => attempt,
        Ok(Begin::Replay(answer)) => return replay(media, lang, answer, work.max_answer),
        Ok(Begin::Differs) => {
            let err = AppError::BadUserInput(Msg::IdempotencyKeyReused {
                field: HEADER.to_owned(),
            });
            return response::said(
                media,
                lang,
                StatusCode::UNPROCESSABLE_ENTITY,
                err.code(),
                err.msg(),
            );
        }
        Ok(Begin::Running) => {
            let err = AppError::Conflict(Msg::IdempotencyKeyRunning {
                field: HEADER.to_owned(),
            });
            let mut res = response::app_error(media, lang, &err);
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return res;
        }
        Err(e) => return response::app_error(media, lang, &e),
    };
    let mark = crate::commit::current().unwrap_or_default();
    // Dropped with this future: the task learns that no one waits for its answer.
    let (_waiting, given_up) = tokio::sync::oneshot::channel::<()>();
    match tokio::spawn(detached(work, attempt, mark, given_up)).await {
        Ok(res) => res,
        Err(e) => {
            // A panic: the key stays `running` until its lease runs out, as after a crash.
            tracing::error!(error = %e, "an idempotent request's task failed");
            response::app_error(media, lang, &AppError::internal(e))
        }
    }
}

/// The stored answer, as it was sent.
fn replay(media: MediaType, lang: Lang, answer: store::Answer, limit: usize) -> Response {
    let Some(body) = answer.body else {
        let err = AppError::PayloadTooLarge(Msg::IdempotencyAnswerNotKept {
            field: HEADER.to_owned(),
            limit,
        });
        return response::app_error(media, lang, &err);
    };
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&answer.content_type) {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    res
}

/// Aborts the lease's renewals when the work ends, however it ends.
struct Renewing(tokio::task::JoinHandle<()>);

impl Drop for Renewing {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn renew_lease(db: DatabaseConnection, attempt: Attempt) -> Renewing {
    Renewing(tokio::spawn(async move {
        let mut every = tokio::time::interval(idempotency::HEARTBEAT);
        every.tick().await; // the first tick is now; the lease is fresh
        loop {
            every.tick().await;
            match store::renew(&db, &attempt).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(
                        key = attempt.id,
                        "an idempotency key was taken over while its request ran"
                    );
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "renewing an idempotency key's lease failed"),
            }
        }
    }))
}

/// The keyed work on its own task: execute, then store the answer (or give the key back
/// when nothing was done).
async fn detached(
    work: Work,
    attempt: Attempt,
    mark: Arc<AtomicBool>,
    mut given_up: tokio::sync::oneshot::Receiver<()>,
) -> Response {
    let Work {
        db,
        schema,
        request,
        media,
        lang,
        max_answer,
    } = work;
    let _renewing = renew_lease(db.clone(), attempt.clone());
    let run = crate::commit::scope(mark.clone(), async move { schema.execute(request).await });
    tokio::pin!(run);
    let mut watching = true;
    let executed = loop {
        tokio::select! {
            r = &mut run => break r,
            _ = &mut given_up, if watching => {
                watching = false;
                // Polled on this task only, so the mark cannot change under this check.
                if !mark.load(Ordering::SeqCst) {
                    give_back(&db, &attempt).await;
                    // No one reads it: the request's own answer was the deadline's 503.
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
            }
        }
    };
    let codes: Vec<&str> = executed
        .errors
        .iter()
        .filter_map(|e| match e.extensions.as_ref()?.get("code")? {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    let any_data = match &executed.data {
        Value::Object(fields) => fields.values().any(|v| *v != Value::Null),
        Value::Null => false,
        _ => true,
    };
    let keep = idempotency::keeps(codes, any_data);
    let res = response::graphql(media, lang, executed);
    if !keep {
        give_back(&db, &attempt).await;
        return res;
    }
    let (parts, body) = res.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "a GraphQL response could not be read back");
            bytes::Bytes::new()
        }
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let kept = (bytes.len() <= max_answer)
        .then(|| std::str::from_utf8(&bytes).ok())
        .flatten();
    store_answer(&db, &attempt, parts.status.as_u16(), content_type, kept).await;
    Response::from_parts(parts, Body::from(bytes))
}

/// Stores the answer, trying again briefly: until it is stored, the lease (still
/// renewed) keeps repeats waiting rather than redoing the work.
async fn store_answer(
    db: &DatabaseConnection,
    attempt: &Attempt,
    status: u16,
    content_type: &str,
    body: Option<&str>,
) {
    for wait in [100, 400, 1600, 0] {
        match store::finish(db, attempt, status, content_type, body).await {
            Ok(true) => return,
            Ok(false) => {
                tracing::warn!(
                    key = attempt.id,
                    "an idempotency key was taken over before its answer was stored"
                );
                return;
            }
            Err(e) if wait > 0 => {
                tracing::warn!(error = %e, "storing an idempotent answer failed; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "storing an idempotent answer failed: a repeat after the lease may do the work again");
            }
        }
    }
}

async fn give_back(db: &DatabaseConnection, attempt: &Attempt) {
    if let Err(e) = store::release(db, attempt).await {
        tracing::warn!(error = %e, "giving an idempotency key back failed; it frees when its lease runs out");
    }
}
