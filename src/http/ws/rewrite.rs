//! Rewriting what async-graphql 7.2.1 sends on a socket where it departs from the
//! protocols (EVENTS.md): an operation failing as a whole, the legacy refusal of
//! `connection_init`. Parsed only when a message can be such.
use std::{collections::HashSet, sync::Mutex};

use super::{
    FORBIDDEN, REFUSED, TOO_MANY, USER_FULL,
    operations::{Operations, lock},
};

pub(super) enum Rewrite {
    Keep,
    Into(String),
    Drop,
}

/// async-graphql 7.2.1 reports an operation that fails as a whole (a bad argument of
/// `defectEvents`, a document refused by the limits) as `next` (legacy: `data`) with
/// `data: null`, then `complete`; graphql-transport-ws (and EVENTS.md) say that is one
/// `error` message with the errors, and no `complete`, as subscriptions-transport-ws
/// does for an operation that fails before it executes (its `GQL_ERROR`).
/// Only messages that can be such are parsed. An operation's `complete` or `error`
/// frees its place in `ops` before it is sent, so a client that saw it may reuse the id.
pub(super) fn as_error(
    text: &str,
    ended: &mut HashSet<String>,
    acked: &mut bool,
    ops: &Mutex<Operations>,
) -> Rewrite {
    if !*acked {
        *acked = text.contains("\"connection_ack\"");
    }
    if text.contains("\"data\":null") {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return Rewrite::Keep;
        };
        let errors = &v["payload"]["errors"];
        let whole = v["type"] == "next" || v["type"] == "data";
        if whole && v["payload"]["data"].is_null() && errors.is_array() {
            let id = v["id"].as_str().unwrap_or_default().to_owned();
            let msg = serde_json::json!({ "id": id, "type": "error", "payload": errors });
            lock(ops).finished(&id);
            ended.insert(id);
            return Rewrite::Into(msg.to_string());
        }
    } else if text.starts_with(COMPLETE) {
        // The library writes the type first (serde's internal tag), so a `next` whose
        // data imitates a `complete` never starts like one.
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return Rewrite::Keep;
        };
        let Some(id) = v["id"].as_str() else {
            return Rewrite::Keep;
        };
        if ended.remove(id) {
            return Rewrite::Drop;
        }
        lock(ops).finished(id);
    }
    Rewrite::Keep
}

/// The close code and reason for the legacy protocol's `connection_error` when it is
/// our refusal of `connection_init` (the library writes the type first, as for
/// `complete`).
pub(super) fn legacy_refusal(text: &str) -> Option<(u16, &'static str)> {
    if !text.starts_with(r#"{"type":"connection_error","#) {
        return None;
    }
    let v = serde_json::from_str::<serde_json::Value>(text).ok()?;
    match v["payload"]["message"].as_str()? {
        REFUSED => Some((FORBIDDEN, REFUSED)),
        USER_FULL => Some((TOO_MANY, USER_FULL)),
        _ => None,
    }
}

/// How the library's `complete` begins (both protocols).
pub(super) const COMPLETE: &str = r#"{"type":"complete","#;
