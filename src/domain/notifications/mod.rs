//! Notifications (NOTIFY.md): derived from the journal by the engine (`crate::engine`),
//! never from a request that might roll back.
//!
//! - `derive.rs`: the journal's consumer `notifications` (who gets what for each event),
//!   with its rules as plain functions in `policy.rs` and `mentions.rs`.
//! - `store.rs`: the one writer of `notifications` (muting, dedupe, the e-mail copy).
//! - `text.rs`: a notification's line in the recipient's language.
//! - `email.rs`: the handler of the `email` jobs `store.rs` queues (SMTP, retries).
//! - `inbox.rs`: reading one's own (the list, the counts, marking read, the live reads);
//!   `settings.rs`: one's own settings; `describe.rs`: a notification's line from its rows.
//! - `visibility.rs`: whether each row's defect is deleted, kept on the row for the inbox.
//! - `clock/`: the deadline clock (DUE_SOON, OVERDUE, ESCALATED by site time).
pub mod clock;
pub mod derive;
pub mod describe;
pub mod email;
pub mod inbox;
pub mod mentions;
pub mod policy;
pub mod settings;
pub mod store;
pub mod text;
pub mod visibility;

/// The channel of `pg_notify` sent by each transaction that inserted notifications
/// (delivered on commit); each instance's notification reader `LISTEN`s on it.
pub const CHANNEL: &str = "defect_control_notifications";

/// What the notification parts need from the server's configuration.
#[derive(Clone)]
pub struct Setup {
    /// Set when `SMTP_URL` is: notifications are also e-mailed.
    pub mailer: Option<std::sync::Arc<crate::mail::Mailer>>,
    /// `PUBLIC_URL`, for the link in an e-mail.
    pub public_url: Option<String>,
    /// `CLOCK_INTERVAL_SECS`.
    pub clock_interval: std::time::Duration,
}

/// What the engine runs for notifications, the clock and e-mail (wired by `state.rs`).
pub fn engine_parts(setup: Setup) -> crate::engine::Parts {
    let mut parts = crate::engine::Parts::default();
    parts.consumers.push(std::sync::Arc::new(derive::Derive {
        email: setup.mailer.is_some(),
    }));
    if let Some(mailer) = setup.mailer.clone() {
        parts.handlers.push(std::sync::Arc::new(email::Email {
            mailer,
            public_url: setup.public_url.clone(),
        }));
    }
    clock::register(&mut parts, &setup);
    parts
}
