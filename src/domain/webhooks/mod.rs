//! Webhooks (NOTIFY.md, "Webhooks"), on the engine built for notifications
//! (`crate::engine`): the journal consumer `webhooks` queues deliveries
//! (`deliveries.rs`), a job per webhook's head delivery attempts it (`attempt.rs`),
//! claimed across instances by the engine's job queue.
//!
//! - `policy.rs`: who manages which webhooks, whose events a webhook receives, retries.
//! - `service.rs`: the management use cases and `replayWebhook`.
//! - `address.rs`: the URL and address rule (SSRF), at creation and in the client.
//! - `sign.rs`: Standard Webhooks secrets and signatures; `body.rs`: the JSON body.
//! - `send.rs`: the HTTP client (timeout, no redirects, bounded read).
//!
//! Secrets are stored as issued, not encrypted: signing needs the key itself, and the
//! only server key there is (`JWT_SECRET`) is optional (random per process when unset)
//! and rotated for its own reasons; encrypting with it would make every webhook
//! unsignable after a restart or a rotation. The database is the trust boundary, as it
//! is for the password hashes and sessions next to them.
pub mod address;
pub mod attempt;
pub mod body;
pub mod deliveries;
pub mod policy;
pub mod send;
pub mod service;
pub mod sign;

use std::{sync::Arc, time::Duration};

use crate::entities::{enums::DefectEventKind, webhooks};

/// What the webhook parts need from the server's configuration.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    /// `WEBHOOK_ALLOW_PRIVATE`: deliveries may reach internal addresses.
    pub allow_private: bool,
    /// `WEBHOOK_TIMEOUT_MS`: one attempt's time limit (5 s by default).
    pub timeout: Duration,
}

/// What the engine runs for webhooks (wired by `state.rs`).
pub fn engine_parts(setup: Setup) -> crate::engine::Parts {
    let mut parts = crate::engine::Parts::default();
    parts.consumers.push(Arc::new(deliveries::Derive));
    parts.handlers.push(Arc::new(attempt::Attempts::new(setup)));
    parts
}

/// The name of an event kind (`CREATED`), as stored in `webhooks.kinds` and the journal.
pub fn kind_name(kind: DefectEventKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A webhook's kinds (empty: every kind).
pub fn kinds_of(hook: &webhooks::Model) -> Vec<String> {
    serde_json::from_str(&hook.kinds).unwrap_or_default()
}

/// A webhook's kinds, typed (for the API).
pub fn kinds_typed(hook: &webhooks::Model) -> Vec<DefectEventKind> {
    serde_json::from_str(&hook.kinds).unwrap_or_default()
}
