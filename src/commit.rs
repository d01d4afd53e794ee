//! The mark that the current request has begun to change data, shared by the transport
//! that enforces the request deadline (`http::deadline`, which explains the rule) and
//! the code that starts a change (the GraphQL mutation extension, the REST handlers).
//! It sits at the crate root so `graphql` can set it without importing `http`.
use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::task::futures::TaskLocalFuture;

tokio::task_local! {
    static COMMITTING: Arc<AtomicBool>;
}

/// From here on the current request runs to completion even past its deadline. A no-op
/// outside a request (tests calling the schema directly, the CLI).
pub fn begin_commit() {
    let _ = COMMITTING.try_with(|flag| flag.store(true, Ordering::SeqCst));
}

/// Runs `f` as one request: [`begin_commit`] inside it sets `flag`.
pub fn scope<F: Future>(flag: Arc<AtomicBool>, f: F) -> TaskLocalFuture<Arc<AtomicBool>, F> {
    COMMITTING.scope(flag, f)
}

/// The current request's mark, for work the request hands to a task of its own (the
/// mark is task-local): run that work in [`scope`] with it. `None` outside a request.
pub fn current() -> Option<Arc<AtomicBool>> {
    COMMITTING.try_with(Arc::clone).ok()
}
