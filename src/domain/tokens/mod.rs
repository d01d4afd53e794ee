//! API tokens for scripts and integrations (NOTIFY.md, "API tokens"): creating, listing
//! and revoking a user's own. What a presented token amounts to is `auth::api_tokens`.
pub mod policy;
pub mod service;
