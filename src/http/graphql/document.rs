//! Admitting a document: the cheap checks on the text on the runtime thread, then the
//! parse and the expansion count on the blocking pool behind a small semaphore, so
//! documents built to be expensive cannot occupy the threads that answer `/health`.
use std::sync::{Arc, LazyLock};

use async_graphql::{
    ServerError,
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
};
use tokio::sync::Semaphore;

use crate::graphql::{
    errors::{self, Phase},
    limits,
};

/// At most one parse per core at a time; more wait for a permit (the request timeout
/// bounds the wait).
static PARSERS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Arc::new(Semaphore::new(cores))
});

/// What the transport needs to know about an admitted document, and the document.
pub struct Admitted {
    /// Parsed and within the document limits; the executor takes it as it is.
    pub doc: ExecutableDocument,
    /// Every operation is a query that selects only `__schema`, `__type` and
    /// `__typename`: it runs on the introspection schema.
    pub introspection: bool,
    pub has_mutation: bool,
}

/// Checks the request's document and returns its parsed form, for the executor to run
/// without parsing it again.
pub async fn admit(request: &mut async_graphql::Request) -> Result<Admitted, ServerError> {
    limits::check_text(&request.query)?;
    let permit = PARSERS
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| errors::coded("the parser is shutting down", "SERVICE_UNAVAILABLE"))?;
    // The text goes to the parser's thread and comes back with the document (no copy).
    let query = std::mem::take(&mut request.query);
    let (query, parsed) = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let parsed = async_graphql::parser::parse_query(&query)
            .map_err(|e| errors::with_code(ServerError::from(e), Phase::Parse.code()))
            .and_then(|doc| limits::check_document(&doc).map(|()| doc));
        (query, parsed)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "the document parser task failed");
        errors::internal()
    })?;
    request.query = query;
    let doc = parsed?;
    Ok(Admitted {
        introspection: is_introspection(&doc),
        has_mutation: doc
            .operations
            .iter()
            .any(|(_, op)| op.node.ty != OperationType::Query),
        doc,
    })
}

fn is_introspection(doc: &ExecutableDocument) -> bool {
    doc.operations.iter().all(|(_, op)| {
        op.node.ty == OperationType::Query && only_meta_fields(doc, &op.node.selection_set.node, 0)
    })
}

/// Root fields through fragments; `depth` stops a fragment cycle (validation reports it).
fn only_meta_fields(doc: &ExecutableDocument, set: &SelectionSet, depth: usize) -> bool {
    depth < limits::MAX_FRAGMENTS
        && set.items.iter().all(|item| match &item.node {
            Selection::Field(f) => {
                matches!(
                    f.node.name.node.as_str(),
                    "__schema" | "__type" | "__typename"
                )
            }
            Selection::InlineFragment(i) => {
                only_meta_fields(doc, &i.node.selection_set.node, depth + 1)
            }
            Selection::FragmentSpread(s) => doc
                .fragments
                .get(&s.node.fragment_name.node)
                .is_some_and(|f| only_meta_fields(doc, &f.node.selection_set.node, depth + 1)),
        })
}
