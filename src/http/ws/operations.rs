//! How many operations one socket runs: the client's `subscribe` messages counted on
//! their way to the library, the excess answered here.
use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use async_graphql::http::ClientMessage;
use axum::extract::ws::Message;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use super::close;

/// Operations (`subscribe`, legacy `start`) one socket runs at once. Each holds a stream,
/// its loaders and a receiver of the live-updates channel until it completes; a screen
/// needs a handful, and a client that wants more opens another socket (which counts
/// under `MAX_CONNECTIONS`).
pub const MAX_OPERATIONS: usize = 32;
/// graphql-transport-ws: "Subscriber for <id> already exists".
const DUPLICATE: u16 = 4409;
/// graphql-transport-ws: "Invalid message".
const INVALID: u16 = 4400;
/// An operation id is the client's name for it; the library keeps it per running
/// operation and writes it into every message of that operation, so a 256 KiB id would
/// cost that much per delivered event. Real clients use counters or UUIDs.
pub const MAX_ID: usize = 128;

/// The operations a socket runs, by id. A `subscribe` counts from when it reaches the
/// library; an operation stops counting when its `complete` or `error` goes out, or when
/// the client sends `complete` for it (the library drops its stream at once).
#[derive(Debug, Default)]
pub(super) struct Operations {
    running: HashSet<String>,
    /// Completed by the client, by id: the library still sends one `complete` for each
    /// (or has one on its way), which frees nothing more. Counted, since a client may
    /// stop, reuse and stop an id again before those answers arrive.
    stopped: HashMap<String, usize>,
}

#[derive(Debug, PartialEq, Eq)]
enum Admission {
    Run,
    Full,
    /// The id runs already. graphql-transport-ws closes the socket with 4409; the
    /// library would instead replace the running operation silently, its `complete`
    /// never sent, which no count could follow.
    Duplicate,
}

impl Operations {
    fn subscribe(&mut self, id: &str) -> Admission {
        if self.running.contains(id) {
            Admission::Duplicate
        } else if self.running.len() >= MAX_OPERATIONS {
            Admission::Full
        } else {
            self.running.insert(id.to_owned());
            Admission::Run
        }
    }

    fn stop(&mut self, id: &str) {
        if self.running.remove(id) {
            *self.stopped.entry(id.to_owned()).or_default() += 1;
        }
    }

    /// The library's `complete` (or our `error`) for `id` goes out.
    pub(super) fn finished(&mut self, id: &str) {
        match self.stopped.get_mut(id) {
            Some(1) => {
                self.stopped.remove(id);
            }
            Some(n) => *n -= 1,
            None => {
                self.running.remove(id);
            }
        }
    }
}

pub(super) fn lock(ops: &Mutex<Operations>) -> MutexGuard<'_, Operations> {
    ops.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The client's messages on their way to the library, with each `subscribe` (legacy
/// `start`) admitted against [`MAX_OPERATIONS`]. They are parsed with the library's own
/// type, so what is counted is exactly what the library runs (a message it cannot
/// parse closes the socket there). A refused `subscribe` never reaches the library: its
/// answer goes to the forwarder through `tx`, in the library's channel, so the socket
/// stays usable; the wait for room in that channel holds the client's next message
/// back, as the library's own answers do.
///
/// Answered here rather than by closing the socket: closing (4429) would end the 32
/// operations that run fine with the one too many. The `error` message is
/// graphql-transport-ws's; its payload, a list of errors, is also what clients of the
/// legacy protocol accept for its `error`.
pub(super) fn counted<S>(
    input: S,
    ops: Arc<Mutex<Operations>>,
    tx: mpsc::Sender<Message>,
) -> impl Stream<Item = Result<Message, axum::Error>> + Send
where
    S: Stream<Item = Result<Message, axum::Error>> + Send,
{
    input.filter_map(move |msg| {
        let answer = match &msg {
            Ok(Message::Text(t)) => admit(t.as_bytes(), &ops),
            Ok(Message::Binary(b)) => admit(b, &ops),
            _ => None,
        };
        let tx = tx.clone();
        async move {
            let Some(answer) = answer else {
                return Some(msg);
            };
            // Fails only once the forwarder has ended, and the socket with it.
            let _ = tx.send(answer).await;
            None
        }
    })
}

/// What to answer instead of passing the client's message on, if anything.
fn admit(bytes: &[u8], ops: &Mutex<Operations>) -> Option<Message> {
    match ClientMessage::from_bytes(bytes).ok()? {
        ClientMessage::Start { id, .. } if id.len() > MAX_ID => Some(close(
            INVALID,
            &format!("Invalid message: an operation id is at most {MAX_ID} bytes"),
        )),
        ClientMessage::Start { id, .. } => match lock(ops).subscribe(&id) {
            Admission::Run => None,
            Admission::Full => Some(Message::Text(too_many(&id).into())),
            Admission::Duplicate => {
                let reason = if id.len() <= 64 {
                    format!("Subscriber for {id} already exists")
                } else {
                    "Subscriber for this id already exists".to_owned()
                };
                Some(close(DUPLICATE, &reason))
            }
        },
        ClientMessage::Stop { id } => {
            lock(ops).stop(&id);
            None
        }
        _ => None,
    }
}

/// The `error` for a `subscribe` beyond [`MAX_OPERATIONS`].
fn too_many(id: &str) -> String {
    let error = crate::graphql::errors::coded(
        format!(
            "this connection already runs {MAX_OPERATIONS} operations; complete one \
             (or open another connection) first"
        ),
        "RATE_LIMITED",
    );
    serde_json::json!({ "id": id, "type": "error", "payload": [error] }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_counts_running_operations_and_each_end_frees_one_place() {
        let mut ops = Operations::default();
        for i in 0..MAX_OPERATIONS {
            assert_eq!(ops.subscribe(&i.to_string()), Admission::Run);
        }
        assert_eq!(ops.subscribe("extra"), Admission::Full);
        assert_eq!(ops.subscribe("0"), Admission::Duplicate);
        // The library's `complete` (or our `error`) frees a place...
        ops.finished("0");
        assert_eq!(ops.subscribe("extra"), Admission::Run);
        assert_eq!(ops.subscribe("0"), Admission::Full);
        // ...and so does the client's `complete`, once.
        ops.stop("1");
        ops.stop("1");
        assert_eq!(ops.subscribe("1"), Admission::Run);
        assert_eq!(ops.subscribe("again"), Admission::Full);
        // The library's answer to that `complete` belongs to the old "1": the new one
        // keeps its place until its own end.
        ops.finished("1");
        assert_eq!(ops.subscribe("again"), Admission::Full);
        ops.finished("1");
        assert_eq!(ops.subscribe("again"), Admission::Run);
        // Stopped, reused and stopped again before either answer: both answers are
        // for the stopped ones, and the third "2" keeps its place.
        ops.stop("2");
        assert_eq!(ops.subscribe("2"), Admission::Run);
        ops.stop("2");
        assert_eq!(ops.subscribe("2"), Admission::Run);
        ops.finished("2");
        ops.finished("2");
        assert_eq!(ops.subscribe("again2"), Admission::Full);
        ops.finished("2");
        assert_eq!(ops.subscribe("again2"), Admission::Run);
        // Ends of unknown ids, or of ids already ended, free nothing.
        ops.finished("nobody");
        ops.stop("nobody");
        ops.finished("1");
        assert_eq!(ops.running.len(), MAX_OPERATIONS);
        assert!(ops.stopped.is_empty());
    }

    fn text(m: Option<Message>) -> Option<serde_json::Value> {
        match m? {
            Message::Text(t) => Some(serde_json::from_str(t.as_str()).unwrap()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_subscribe_beyond_the_cap_is_answered_with_a_coded_error_for_its_id() {
        let ops = Mutex::new(Operations::default());
        let sub = |id: &str, kind: &str| {
            serde_json::json!({ "id": id, "type": kind, "payload": { "query": "{ me { id } }" } })
                .to_string()
        };
        for i in 0..MAX_OPERATIONS {
            // Both protocols' names for it count alike.
            let kind = if i % 2 == 0 { "subscribe" } else { "start" };
            assert!(admit(sub(&i.to_string(), kind).as_bytes(), &ops).is_none());
        }
        let refused = text(admit(sub("x", "start").as_bytes(), &ops)).unwrap();
        assert_eq!(refused["id"], "x");
        assert_eq!(refused["type"], "error");
        assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED");
        // Other messages, and what the library will refuse itself, pass.
        for other in [
            r#"{"type":"ping"}"#,
            r#"{"type":"connection_init"}"#,
            "not json",
            r#"{"id":"y","type":"subscribe"}"#,
        ] {
            assert!(admit(other.as_bytes(), &ops).is_none(), "{other}");
        }
        // The client's `complete` (legacy `stop`) frees a place at once.
        assert!(admit(br#"{"id":"3","type":"stop"}"#, &ops).is_none());
        assert!(admit(sub("x", "subscribe").as_bytes(), &ops).is_none());
        match admit(sub("x", "subscribe").as_bytes(), &ops) {
            Some(Message::Close(Some(f))) => assert_eq!(f.code, DUPLICATE),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_operation_id_longer_than_max_id_closes_the_socket_before_anything_is_kept() {
        let ops = Mutex::new(Operations::default());
        let sub = |id: &str| {
            serde_json::json!({ "id": id, "type": "subscribe", "payload": { "query": "{ me { id } }" } })
                .to_string()
        };
        match admit(sub(&"i".repeat(256 * 1024 - 100)).as_bytes(), &ops) {
            Some(Message::Close(Some(f))) => assert_eq!(f.code, INVALID),
            other => panic!("{other:?}"),
        }
        assert!(admit(sub(&"i".repeat(MAX_ID)).as_bytes(), &ops).is_none());
        // Nothing of the refused one counts: all the other places are still free.
        for i in 1..MAX_OPERATIONS {
            assert!(admit(sub(&i.to_string()).as_bytes(), &ops).is_none());
        }
    }
}
