//! Notifications (NOTIFY.md): derived from the journal by the engine (`crate::engine`),
//! never from a request that might roll back.
//!
//! - `store.rs`: the one writer of `notifications` (muting, dedupe, the e-mail copy).
pub mod store;
pub mod text;

/// The channel of `pg_notify` sent by each transaction that inserted notifications
/// (delivered on commit); each instance's notification reader `LISTEN`s on it.
pub const CHANNEL: &str = "defect_control_notifications";

/// What the engine runs for notifications, clock and e-mail (wired by `state.rs`).
pub fn engine_parts(_mail: Option<()>) -> crate::engine::Parts {
    crate::engine::Parts::default()
}
