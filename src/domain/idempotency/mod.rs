//! Safe retries (FIELD.md, "Safe retries"; the IETF draft "The Idempotency-Key HTTP
//! Header Field"): a mutation request with an `Idempotency-Key` is done once per user
//! and key within [`TTL`], and every repeat gets the first answer.
//!
//! - [`key`]: what a key may be (1..=255 visible ASCII; the draft's structured-field
//!   string `"…"` is read as its content).
//! - [`fingerprint`]: what makes two requests "the same" (document, operation name,
//!   variables, and each file's name, type and contents; never the multipart boundary).
//! - [`store`]: the row per `(user_id, key)`. Its INSERT is the lock, on any instance:
//!   the request that inserts the `running` row does the work; a repeat reads the row and
//!   gets the stored answer (`done`), `CONFLICT` (still running) or `BAD_USER_INPUT` (a
//!   different request under the key). A running row carries a lease that its request
//!   renews while it works ([`HEARTBEAT`]); a row whose lease ran out belongs to a
//!   request that died with its process, and the next repeat takes it over.
//! - [`sweep`]: the engine's tick that deletes expired rows in bounded batches.
//!
//! An answer is kept up to `IDEMPOTENCY_MAX_ANSWER_BYTES` (1 MiB by default). A larger
//! one is still sent whole to the first request; its row is stored `done` without a
//! body, and repeats get `PAYLOAD_TOO_LARGE` saying the work was done and its answer not
//! kept: the work is never done twice for the sake of an answer.
//!
//! The transport (`http::graphql::idempotent`) reads the header and the request, asks
//! [`store::begin`], runs the work detached from the connection and stores the answer.
pub mod fingerprint;
pub mod key;
pub mod store;
pub mod sweep;

use std::time::Duration;

pub use fingerprint::Fingerprint;
pub use key::Key;

/// The header's name, as errors name it (`field`).
pub const HEADER: &str = "Idempotency-Key";

/// How long a key is remembered after its first use.
pub const TTL: Duration = Duration::from_secs(24 * 3600);

/// A running row belongs to its request for this long after its last renewal; after
/// that, the request is taken for dead (its process crashed) and a repeat may redo it.
pub const LEASE: Duration = Duration::from_secs(60);

/// How often a running request renews its lease: three renewals fit in a lease, so a
/// slow database delays none past it.
pub const HEARTBEAT: Duration = Duration::from_secs(20);

/// Error codes that say "nothing happened, try again": an answer that has only these
/// errors and no data is not kept, so the repeat does the work (a 503 stored for 24
/// hours would defeat the retry it asks for).
const RETRYABLE: [&str; 2] = ["SERVICE_UNAVAILABLE", "RATE_LIMITED"];

/// Whether an answer is the outcome to replay: anything but a refusal that only says
/// "retry later" (every error's code retryable) and did nothing (no field has data).
pub fn keeps<'a>(codes: impl IntoIterator<Item = &'a str>, any_data: bool) -> bool {
    let mut codes = codes.into_iter().peekable();
    if any_data || codes.peek().is_none() {
        return true;
    }
    !codes.all(|c| RETRYABLE.contains(&c))
}

/// The engine's part of safe retries: the tick that deletes expired keys.
pub fn engine_parts() -> crate::engine::Parts {
    let mut parts = crate::engine::Parts::default();
    parts.ticks.push(std::sync::Arc::new(sweep::Sweep));
    parts
}

#[cfg(test)]
mod tests {
    use super::keeps;

    #[test]
    fn retryable_refusals_without_data_are_not_kept() {
        let table: [(&[&str], bool, bool); 7] = [
            (&[], true, true),
            (&[], false, true),
            (&["BAD_USER_INPUT"], false, true),
            (&["SERVICE_UNAVAILABLE"], false, false),
            (&["RATE_LIMITED", "SERVICE_UNAVAILABLE"], false, false),
            (&["SERVICE_UNAVAILABLE"], true, true),
            (&["SERVICE_UNAVAILABLE", "NOT_FOUND"], false, true),
        ];
        for (codes, data, kept) in table {
            assert_eq!(keeps(codes.iter().copied(), data), kept, "{codes:?} {data}");
        }
    }
}
