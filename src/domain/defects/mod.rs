pub mod activity;
pub mod attachments;
pub mod bulk;
pub mod comments;
pub mod creation;
pub mod files;
pub mod filter;
pub mod import;
pub mod journal;
pub mod keys;
pub mod live;
pub mod location;
pub mod policy;
pub mod queries;
pub mod service;
pub mod transitions;
pub mod trash;
mod versioned;
pub mod watchers;

/// The CSV export moved to `reports::export` (one owner with its permission rule); this
/// path stays for callers that name `defects::export` (the integration tests' `BATCH`).
pub use crate::domain::reports::export;
