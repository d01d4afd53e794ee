//! How many operations one socket runs: the client's `subscribe` messages counted on
//! their way to the library, the excess answered here.
use crate::i18n::Lang;
use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use async_graphql::http::ClientMessage;
use axum::extract::ws::Message;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use super::{
    admission::{INVALID, Protocol, error_message, read_error},
    close,
};

/// Operations (`subscribe`, legacy `start`) one socket runs at once. Each holds a stream,
/// its loaders and a receiver of the live-updates channel until it completes; a screen
/// needs a handful, and a client that wants more opens another socket (which counts
/// under `MAX_CONNECTIONS`).
pub const MAX_OPERATIONS: usize = 32;
/// graphql-transport-ws: "Subscriber for <id> already exists".
const DUPLICATE: u16 = 4409;
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
/// type, so what is counted is exactly what the library runs; a message it could not
/// parse, one over the size limit and an operation before `connection_init` are
/// answered here as the protocol says (`admission::Protocol`), never passed on (the
/// library would drop the socket without a close frame, or close with 1011). A refused
/// `subscribe` never reaches the library: its answer goes to the forwarder through
/// `tx`, in the library's channel, so the socket stays usable; the wait for room in
/// that channel holds the client's next message back, as the library's own answers do.
///
/// Answered here rather than by closing the socket: closing (4429) would end the 32
/// operations that run fine with the one too many. The `error` message is
/// graphql-transport-ws's; its payload, a list of errors, is also what clients of the
/// legacy protocol accept for its `error`.
pub(super) fn counted<S>(
    input: S,
    ops: Arc<Mutex<Operations>>,
    tx: mpsc::Sender<Message>,
    protocol: Protocol,
    lang: Lang,
) -> impl Stream<Item = Result<Message, axum::Error>> + Send
where
    S: Stream<Item = Result<Message, axum::Error>> + Send,
{
    let mut reader = Reader {
        protocol,
        initialised: false,
        lang,
    };
    input.filter_map(move |msg| {
        let answer = match &msg {
            Ok(Message::Text(t)) => reader.admit(t.as_bytes(), &ops),
            Ok(Message::Binary(b)) => reader.admit(b, &ops),
            // The error still goes on, to end the library's reading; a message over
            // the limit is told why first.
            Err(e) => read_error(protocol, e).map(|m| (m, true)),
            Ok(_) => None,
        };
        let tx = tx.clone();
        async move {
            let Some((answer, pass)) = answer else {
                return Some(msg);
            };
            // Fails only once the forwarder has ended, and the socket with it.
            let _ = tx.send(answer).await;
            pass.then_some(msg)
        }
    })
}

/// What the socket has seen of the client's messages.
struct Reader {
    protocol: Protocol,
    /// A `connection_init` went to the library: operations after it run once it is
    /// accepted (the library reads nothing more until then), or not at all.
    initialised: bool,
    /// The language of the socket's upgrade request.
    lang: Lang,
}

impl Reader {
    /// What to answer instead of passing the client's message on, if anything (the
    /// message then does not go on).
    fn admit(&mut self, bytes: &[u8], ops: &Mutex<Operations>) -> Option<(Message, bool)> {
        let Ok(msg) = ClientMessage::from_bytes(bytes) else {
            return Some((self.protocol.invalid(), false));
        };
        let answer = match msg {
            ClientMessage::ConnectionInit { .. } => {
                self.initialised = true;
                None
            }
            ClientMessage::Start { id, .. } if id.len() > MAX_ID => Some(close(
                INVALID,
                &format!("Invalid message: an operation id is at most {MAX_ID} bytes"),
            )),
            ClientMessage::Start { id, .. } if !self.initialised => {
                Some(self.protocol.before_init(&id, self.lang))
            }
            ClientMessage::Start { id, .. } => admit(&id, ops),
            ClientMessage::Stop { id } => {
                lock(ops).stop(&id);
                None
            }
            _ => None,
        };
        answer.map(|m| (m, false))
    }
}

/// What to answer instead of passing operation `id` on, if anything.
fn admit(id: &str, ops: &Mutex<Operations>) -> Option<Message> {
    match lock(ops).subscribe(id) {
        Admission::Run => None,
        Admission::Full => Some(Message::Text(too_many(id).into())),
        Admission::Duplicate => {
            let reason = if id.len() <= 64 {
                format!("Subscriber for {id} already exists")
            } else {
                "Subscriber for this id already exists".to_owned()
            };
            Some(close(DUPLICATE, &reason))
        }
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
    error_message(id, &[error])
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

    fn close_code(m: Option<Message>) -> u16 {
        match m {
            Some(Message::Close(Some(f))) => f.code,
            other => panic!("{other:?}"),
        }
    }

    /// A socket past `connection_init`.
    fn initialised(protocol: Protocol) -> Reader {
        Reader {
            protocol,
            initialised: true,
            lang: Lang::En,
        }
    }

    /// The answer to `bytes`, if any (the message then never reaches the library).
    fn read(reader: &mut Reader, bytes: &[u8], ops: &Mutex<Operations>) -> Option<Message> {
        reader.admit(bytes, ops).map(|(m, pass)| {
            assert!(!pass);
            m
        })
    }

    #[test]
    fn a_subscribe_beyond_the_cap_is_answered_with_a_coded_error_for_its_id() {
        let ops = Mutex::new(Operations::default());
        let mut r = initialised(Protocol::TransportWs);
        let sub = |id: &str, kind: &str| {
            serde_json::json!({ "id": id, "type": kind, "payload": { "query": "{ me { id } }" } })
                .to_string()
        };
        for i in 0..MAX_OPERATIONS {
            // Both protocols' names for it count alike.
            let kind = if i % 2 == 0 { "subscribe" } else { "start" };
            assert!(read(&mut r, sub(&i.to_string(), kind).as_bytes(), &ops).is_none());
        }
        let refused = text(read(&mut r, sub("x", "start").as_bytes(), &ops)).unwrap();
        assert_eq!(refused["id"], "x");
        assert_eq!(refused["type"], "error");
        assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED");
        // Other messages pass.
        for other in [r#"{"type":"ping"}"#, r#"{"type":"connection_init"}"#] {
            assert!(read(&mut r, other.as_bytes(), &ops).is_none(), "{other}");
        }
        // The client's `complete` (legacy `stop`) frees a place at once.
        assert!(read(&mut r, br#"{"id":"3","type":"stop"}"#, &ops).is_none());
        assert!(read(&mut r, sub("x", "subscribe").as_bytes(), &ops).is_none());
        assert_eq!(
            close_code(read(&mut r, sub("x", "subscribe").as_bytes(), &ops)),
            DUPLICATE
        );
    }

    #[test]
    fn an_operation_id_longer_than_max_id_closes_the_socket_before_anything_is_kept() {
        let ops = Mutex::new(Operations::default());
        let mut r = initialised(Protocol::TransportWs);
        let sub = |id: &str| {
            serde_json::json!({ "id": id, "type": "subscribe", "payload": { "query": "{ me { id } }" } })
                .to_string()
        };
        assert_eq!(
            close_code(read(
                &mut r,
                sub(&"i".repeat(256 * 1024 - 100)).as_bytes(),
                &ops
            )),
            INVALID
        );
        assert!(read(&mut r, sub(&"i".repeat(MAX_ID)).as_bytes(), &ops).is_none());
        // Nothing of the refused one counts: all the other places are still free.
        for i in 1..MAX_OPERATIONS {
            assert!(read(&mut r, sub(&i.to_string()).as_bytes(), &ops).is_none());
        }
    }

    #[test]
    fn messages_the_library_cannot_read_are_answered_as_each_protocol_says() {
        let ops = Mutex::new(Operations::default());
        for bad in [
            "not json",
            r#"{"type":"unknown"}"#,
            r#"{"id":"y","type":"subscribe"}"#,
        ] {
            let mut r = initialised(Protocol::TransportWs);
            assert_eq!(
                close_code(read(&mut r, bad.as_bytes(), &ops)),
                4400,
                "{bad}"
            );
            // The legacy server answers `connection_error` and reads on.
            let mut r = initialised(Protocol::Legacy);
            let v = text(read(&mut r, bad.as_bytes(), &ops)).unwrap();
            assert_eq!(v["type"], "connection_error", "{bad}");
        }
        assert!(ops.lock().unwrap().running.is_empty());
    }

    #[test]
    fn an_operation_before_connection_init_is_unauthorized_and_runs_nothing() {
        let ops = Mutex::new(Operations::default());
        let sub = br#"{"id":"1","type":"subscribe","payload":{"query":"{ me { id } }"}}"#;
        let mut r = Reader {
            protocol: Protocol::TransportWs,
            initialised: false,
            lang: Lang::En,
        };
        assert_eq!(close_code(read(&mut r, sub, &ops)), 4401);
        let mut r = Reader {
            protocol: Protocol::Legacy,
            initialised: false,
            lang: Lang::En,
        };
        let v = text(read(&mut r, sub, &ops)).unwrap();
        assert_eq!((&v["type"], &v["id"]), (&"error".into(), &"1".into()));
        assert_eq!(v["payload"][0]["extensions"]["code"], "UNAUTHENTICATED");
        assert!(ops.lock().unwrap().running.is_empty());
        // After `connection_init` (answered by the library), operations run.
        assert!(read(&mut r, br#"{"type":"connection_init"}"#, &ops).is_none());
        assert!(read(&mut r, sub, &ops).is_none());
        assert_eq!(ops.lock().unwrap().running.len(), 1);
    }
}
