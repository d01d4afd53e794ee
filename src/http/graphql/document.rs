//! Admitting a document: the cheap checks on the text on the runtime thread, then the
//! parse and the expansion count on the blocking pool behind a small semaphore, so
//! documents built to be expensive cannot occupy the threads that answer `/health`.
use std::{
    num::NonZeroUsize,
    sync::{Arc, LazyLock, Mutex},
};

use async_graphql::{
    ServerError,
    parser::types::{ExecutableDocument, OperationType},
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

/// Documents admitted lately, by their text. Clients send the same few documents over
/// and over with other variables; a hit skips the hop to the blocking pool, the parse and
/// the limit checks (measured: the parse alone was ~4 % of a list request's server CPU,
/// plus a thread hand-off each way). Only texts that passed every check are kept, so a
/// hit admits exactly what a parse would. Bounded: at most `CACHE_ENTRIES` documents of
/// at most `CACHE_MAX_TEXT` bytes each, and at most `CACHE_TEXT_BUDGET` bytes of text in
/// all — a parsed document can be ~40× its text (`[1,1,1,…]`: each 2-byte item is a
/// `Value`), so the budget, not the count, bounds the memory (~10 MiB at worst). A
/// stream of distinct documents only evicts (each still pays its own parse). Per process.
const CACHE_ENTRIES: usize = 256;
const CACHE_MAX_TEXT: usize = 16 * 1024;
const CACHE_TEXT_BUDGET: usize = 256 * 1024;

struct Cache {
    lru: lru::LruCache<String, Arc<Admitted>>,
    /// Bytes of the texts held (the keys).
    text_bytes: usize,
}

impl Cache {
    fn get(&mut self, text: &str) -> Option<Arc<Admitted>> {
        self.lru.get(text).cloned()
    }

    fn put(&mut self, text: String, admitted: Admitted) {
        let len = text.len();
        if let Some((old, _)) = self.lru.push(text, Arc::new(admitted)) {
            self.text_bytes -= old.len();
        }
        self.text_bytes += len;
        while self.text_bytes > CACHE_TEXT_BUDGET {
            let Some((old, _)) = self.lru.pop_lru() else {
                break;
            };
            self.text_bytes -= old.len();
        }
    }

    #[cfg(test)]
    fn contains(&self, text: &str) -> bool {
        self.lru.contains(text)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lru.len()
    }
}

static ADMITTED: LazyLock<Mutex<Cache>> = LazyLock::new(|| {
    Mutex::new(Cache {
        lru: lru::LruCache::new(NonZeroUsize::new(CACHE_ENTRIES).expect("a positive size")),
        text_bytes: 0,
    })
});

fn cache() -> std::sync::MutexGuard<'static, Cache> {
    // The critical sections only move entries; a panic inside one leaves a usable cache.
    ADMITTED.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the transport needs to know about an admitted document, and the document.
#[derive(Clone)]
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
    let hit = cache().get(&request.query);
    if let Some(admitted) = hit {
        return Ok((*admitted).clone());
    }
    limits::check_text(&request.query)?;
    let permit =
        PARSERS.clone().acquire_owned().await.map_err(|_| {
            errors::said(crate::i18n::Msg::ParserShuttingDown, "SERVICE_UNAVAILABLE")
        })?;
    // The text goes to the parser's thread and comes back with the document (no copy).
    let query = std::mem::take(&mut request.query);
    let (query, parsed) = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let parsed = async_graphql::parser::parse_query(&query)
            .map_err(|e| errors::with_code(ServerError::from(e), Phase::Parse.code()))
            .and_then(|doc| limits::check_document(&doc).map(|kind| (doc, kind)));
        (query, parsed)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "the document parser task failed");
        errors::internal()
    })?;
    let (doc, limits::Introspection(introspection)) = parsed?;
    let admitted = Admitted {
        introspection,
        has_mutation: doc
            .operations
            .iter()
            .any(|(_, op)| op.node.ty != OperationType::Query),
        doc,
    };
    if query.len() <= CACHE_MAX_TEXT {
        cache().put(query.clone(), admitted.clone());
    }
    request.query = query;
    Ok(admitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str) -> async_graphql::Request {
        async_graphql::Request::new(query)
    }

    /// One test: the cache is per process and the unit tests run in parallel threads.
    #[tokio::test]
    async fn admitted_documents_are_cached_refused_ones_never_and_the_cache_stays_bounded() {
        let text = "query CacheProbe($id: ID!) { defect(id: $id) { id title } }";
        let first = admit(&mut request(text)).await.expect("admitted");
        assert!(cache().contains(text), "an admitted document is kept");
        let mut again = request(text);
        let second = admit(&mut again).await.expect("admitted from the cache");
        assert_eq!(again.query, text, "the request keeps its text");
        assert_eq!(
            (second.has_mutation, second.introspection),
            (first.has_mutation, first.introspection)
        );
        assert_eq!(second.doc.operations.iter().count(), 1);

        let mutation = "mutation CacheProbe { logout }";
        assert!(admit(&mut request(mutation)).await.unwrap().has_mutation);
        assert!(admit(&mut request(mutation)).await.unwrap().has_mutation);

        // Over the nesting limit: refused, not kept, refused again the second time.
        let deep = format!("{{ {}a{} }}", "a { ".repeat(200), " }".repeat(200));
        for _ in 0..2 {
            assert!(admit(&mut request(&deep)).await.is_err());
            assert!(!cache().contains(deep.as_str()));
        }
        // A text over the cached size is admitted but not kept.
        let long = format!("{{ __typename }}{}", " ".repeat(CACHE_MAX_TEXT));
        admit(&mut request(&long)).await.expect("admitted");
        assert!(!cache().contains(long.as_str()));

        // Distinct documents only evict: the cache never holds more than its bound.
        for i in 0..(CACHE_ENTRIES + 50) {
            admit(&mut request(&format!("{{ a{i}: __typename }}")))
                .await
                .expect("admitted");
            assert!(cache().len() <= CACHE_ENTRIES);
        }
        assert!(cache().contains(format!("{{ a{}: __typename }}", CACHE_ENTRIES + 49).as_str()));

        // Large texts are bounded by the byte budget, not only by the count.
        let big = |i: usize| format!("{{ b{i}: __typename }}{}", " ".repeat(CACHE_MAX_TEXT - 40));
        for i in 0..(CACHE_TEXT_BUDGET / CACHE_MAX_TEXT + 8) {
            admit(&mut request(&big(i))).await.expect("admitted");
            assert!(cache().text_bytes <= CACHE_TEXT_BUDGET);
        }
        assert!(cache().len() <= CACHE_TEXT_BUDGET / (CACHE_MAX_TEXT - 40) + 1);
    }
}
