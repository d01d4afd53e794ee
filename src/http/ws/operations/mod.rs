//! How many operations one socket runs: the client's `subscribe` messages counted on
//! their way to the library, the excess answered here.
use crate::i18n::{Lang, Msg};
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
/// Operations a socket may start or stop in a burst, and how many more per second after
/// it: each `subscribe` is admitted, resolves its viewer and joins the live channel, so a
/// client alternating `subscribe` and `complete` under the [`MAX_OPERATIONS`] cap could
/// otherwise make the server do that as fast as it can send. A screen starts a handful.
pub const OPERATION_BURST: f64 = 64.0;
pub const OPERATIONS_PER_SECOND: f64 = 16.0;

/// A token bucket over the socket's `subscribe` and `complete` messages. Hand-written:
/// six lines, one owner, no clock shared between sockets (`governor` is for keyed,
/// shared limiters and would be a dependency for this).
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: std::time::Instant,
}

impl Bucket {
    fn new() -> Self {
        Bucket {
            tokens: OPERATION_BURST,
            at: std::time::Instant::now(),
        }
    }

    /// Takes a token if there is one.
    fn take(&mut self, now: std::time::Instant) -> bool {
        let refill = now.duration_since(self.at).as_secs_f64() * OPERATIONS_PER_SECOND;
        self.tokens = (self.tokens + refill).min(OPERATION_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

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
        bucket: Bucket::new(),
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
    /// `subscribe` and `complete` messages draw from it; a `subscribe` finding it empty
    /// is refused with RATE_LIMITED (a `complete` always goes on: it frees things).
    bucket: Bucket,
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
            ClientMessage::Start { id, .. } => {
                if self.bucket.take(std::time::Instant::now()) {
                    admit(&id, ops, self.lang)
                } else {
                    Some(Message::Text(too_fast(&id, self.lang).into()))
                }
            }
            ClientMessage::Stop { id } => {
                self.bucket.take(std::time::Instant::now());
                lock(ops).stop(&id);
                None
            }
            _ => None,
        };
        answer.map(|m| (m, false))
    }
}

/// What to answer instead of passing operation `id` on, if anything.
fn admit(id: &str, ops: &Mutex<Operations>, lang: Lang) -> Option<Message> {
    match lock(ops).subscribe(id) {
        Admission::Run => None,
        Admission::Full => Some(Message::Text(too_many(id, lang).into())),
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

/// A RATE_LIMITED `error` for operation `id`, in the socket's language.
fn rate_limited(id: &str, msg: &Msg, lang: Lang) -> String {
    let error = crate::graphql::errors::coded(msg.text(lang), "RATE_LIMITED");
    error_message(id, &[error])
}

/// The `error` for a `subscribe` beyond [`MAX_OPERATIONS`].
fn too_many(id: &str, lang: Lang) -> String {
    rate_limited(
        id,
        &Msg::SocketOperationsFull {
            max: MAX_OPERATIONS,
        },
        lang,
    )
}

/// The `error` for a `subscribe` beyond the socket's rate.
fn too_fast(id: &str, lang: Lang) -> String {
    let msg = Msg::SocketOperationsTooFast {
        rate: OPERATIONS_PER_SECOND as u64,
        burst: OPERATION_BURST as u64,
    };
    rate_limited(id, &msg, lang)
}

#[cfg(test)]
mod tests;
