//! `GET /graphql/ws`: GraphQL over WebSocket (graphql-transport-ws, and the legacy
//! subscriptions-transport-ws), served by async-graphql's `GraphQLWebSocket`.
//! Auth is in `connection_init` (`{"authorization": "Bearer <access>"}`), resolved like
//! the HTTP `Authorization` header; a refused one, and the token's expiry, close the
//! socket with 4403. The library closes a refused init with 1002, and has no way to close
//! later, so its messages go through a forwarder of ours that can.
//!
//! A socket runs at most [`MAX_OPERATIONS`] operations at once: the client's messages
//! pass through [`counted`] on their way to the library, which answers a `subscribe`
//! beyond the cap itself (an `error` for that id, through the forwarder); the
//! forwarder frees a place when an operation's `complete` or `error` goes out.
//!
//! Sockets are capped in all, per address and per user (`caps`); the forwarder pings a
//! socket that has been silent for `WS_PING_INTERVAL_SECS` and closes one that has
//! received nothing, not even a pong, for `WS_IDLE_TIMEOUT_SECS` (or that does not take
//! what is sent to it for as long). An operation that finds the socket's session
//! revoked or its user deactivated, when it starts or when it ends (a subscription ends
//! when its viewer is refused), closes the socket with 4403.
//!
//! Every document is admitted as over HTTP before anything walks it, and messages the
//! library cannot take are answered as the protocol says: see [`admission`].
mod admission;
pub mod caps;
mod init;
mod operations;
mod rewrite;

use self::{
    init::{expiry_after, init},
    rewrite::{Rewrite, as_error, legacy_refusal},
};

use crate::i18n::Lang;
use crate::i18n::Msg;
use std::{
    any::TypeId,
    collections::HashSet,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use async_graphql::{
    Data, Executor, Request, Response, futures_util::stream::BoxStream,
    http::ALL_WEBSOCKET_PROTOCOLS,
};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    Extension,
    extract::{
        State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::{HeaderMap, HeaderValue, header::AUTHORIZATION},
    response::{IntoResponse, Response as HttpResponse},
};
use futures_util::{
    SinkExt, StreamExt,
    sink::{self, Sink},
    stream,
};
use sea_orm::DatabaseConnection;
use tokio::{
    sync::{mpsc, oneshot},
    time::Instant,
};

pub use self::operations::{MAX_OPERATIONS, OPERATION_BURST, OPERATIONS_PER_SECOND};
use self::{
    caps::{ConnectionSlot, KeyPlace, Refused, SocketCaps},
    operations::{Operations, counted},
};
use super::Http;
use crate::{
    auth::{
        tokens::Keys,
        viewer::{Auth, BearerToken, ClientAddr, from_token, resolve},
    },
    error::AppError,
    graphql::{AppSchema, loaders},
    state::AppState,
};

/// graphql-transport-ws: "Forbidden".
const FORBIDDEN: u16 = 4403;
/// RFC 6455: "going away" (the server is shutting down); clients reconnect, to another
/// instance behind a load balancer, and resume with `after`.
const GOING_AWAY: u16 = 1001;
/// What our `connection_init` refusal says; the forwarder turns the library's 1002 with
/// this reason into 4403.
const REFUSED: &str = "Forbidden";
/// What a socket of a user past `WS_MAX_PER_USER` or of an address past
/// `WS_MAX_PER_ADDRESS` is closed with. graphql-transport-ws uses 4429 for "too many"
/// (a second `connection_init`), and its reference client (graphql-ws) does not
/// reconnect after it, which is what a client over its cap should do.
const TOO_MANY: u16 = 4429;
/// Our `connection_init` refusal for a user at `WS_MAX_PER_USER`; the forwarder turns the
/// library's 1002 with this reason into 4429.
const USER_FULL: &str = "Too many connections for this user";
const ADDRESS_FULL: &str = "Too many connections from this address";
/// Why an operation closed the socket: its session was revoked or its user deactivated.
/// Why a socket that received nothing (not even a pong) for `WS_IDLE_TIMEOUT_SECS` is
/// closed (with 1001, like a server that goes away: a live client reconnects).
const IDLE: &str = "idle timeout: no message or pong received";
const SESSION_ENDED: &str = "Forbidden: the session was revoked or the user deactivated";
/// A GraphQL document over the socket is as small as one over HTTP; axum's default (64
/// MiB) would let one frame hold that much memory.
const MAX_MESSAGE: usize = 256 * 1024;
/// tungstenite's read buffer per socket. Its default (128 KiB) is zero-filled up to its
/// capacity before every read, so each open socket kept 128 KiB resident however idle it
/// was (measured: 78–191 KiB per idle subscriber with the default). Our messages are a
/// few hundred bytes; a larger frame grows the buffer for as long as it is read.
const READ_BUFFER: usize = 4 * 1024;
/// How long a socket may stay open without a successful `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn upgrade(
    State(http): State<Http>,
    slot: Option<Extension<ConnectionSlot>>,
    client: ClientAddr,
    protocol: GraphQLProtocol,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> HttpResponse {
    // Past the sockets' share of MAX_CONNECTIONS: refused before the upgrade, like any
    // request the server has no room for. Past the address's cap: upgraded and closed
    // with 4429, which (unlike a refused upgrade) a browser's script can read.
    let place = http.sockets.open(client.0.clone());
    if let Err(Refused::Full) = place {
        return AppError::Unavailable(Msg::TooManySockets).into_response();
    }
    let chosen = admission::Protocol::of(&headers);
    // Every error on the socket is worded in the language of the upgrade request.
    let lang = Lang::of(&headers);
    ws.protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |mut socket| async move {
            match place {
                Ok(place) => {
                    serve(socket, http, protocol, chosen, client, lang).await;
                    drop(place);
                }
                Err(_) => {
                    let _ = socket.send(close(TOO_MANY, ADDRESS_FULL)).await;
                }
            }
            // The socket counts under MAX_CONNECTIONS until it closes.
            drop(slot);
        })
}

/// The schema with a fresh set of loaders per operation, as over HTTP (without a cache
/// for a subscription: see `loaders::Caching`), and the viewer resolved again for each
/// operation from the token of `connection_init`.
#[derive(Clone)]
struct WithLoaders {
    schema: AppSchema,
    db: DatabaseConnection,
    keys: Arc<Keys>,
    /// The forwarder's channel: an operation that finds the session gone closes the
    /// socket through it.
    closer: mpsc::Sender<Message>,
    /// The language every response's errors are worded in (`graphql::words`).
    lang: Lang,
}

impl Executor for WithLoaders {
    fn execute(&self, request: Request) -> impl Future<Output = Response> + Send {
        let request = loaders::register(request, &self.db);
        let (schema, lang) = (self.schema.clone(), self.lang);
        async move { crate::graphql::words::response(schema.execute(request).await, lang) }
    }

    /// Every operation on the socket (query, mutation or subscription) gets the viewer
    /// as a request over HTTP would: user, role, active flag and session read now, put in
    /// the operation's data, which resolvers read before the socket's. The `Auth` kept
    /// from `connection_init` would let a demoted, deactivated or logged-out user go on
    /// acting with the rights it had when the socket opened. The document is admitted
    /// first, as over HTTP (`admission::document`), before the viewer is read.
    ///
    /// A refused viewer (revoked session, deactivated user, expired token) closes the
    /// socket with 4403, when an operation starts and when it ends: a subscription ends
    /// when its viewer is refused (`graphql::defects::live`), so the standing read again
    /// then tells a refusal from an ordinary end (one statement per ended operation).
    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<std::sync::Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let request = loaders::register_uncached(request, &self.db);
        let session_data = session_data.unwrap_or_default();
        let token = session_data
            .get(&TypeId::of::<BearerToken>())
            .and_then(|t| t.downcast_ref::<BearerToken>())
            .cloned();
        let (schema, db, keys) = (self.schema.clone(), self.db.clone(), self.keys.clone());
        let (closer, lang) = (self.closer.clone(), self.lang);
        stream::once(async move {
            let request = match admission::document(request).await {
                Ok(request) => request,
                Err(refused) => return stream::once(async { refused }).boxed(),
            };
            // `init` always puts the token in; without one there is nothing to re-check.
            let Some(token) = token else {
                return schema.execute_stream_with_session_data(request, session_data);
            };
            let auth = from_token(&db, &keys, &token).await;
            if refused(&auth) {
                let _ = closer.send(close(FORBIDDEN, SESSION_ENDED)).await;
                return stream::empty().boxed();
            }
            let operation =
                schema.execute_stream_with_session_data(request.data(auth), session_data);
            let end = stream::once(async move {
                if refused(&from_token(&db, &keys, &token).await) {
                    let _ = closer.send(close(FORBIDDEN, SESSION_ENDED)).await;
                }
                None
            });
            operation.chain(end.filter_map(std::future::ready)).boxed()
        })
        .flatten()
        .map(move |response| crate::graphql::words::response(response, lang))
        .boxed()
    }
}

/// Whether `auth` says the token's session or user is gone (not that the database
/// failed to answer).
fn refused(auth: &Auth) -> bool {
    matches!(auth, Auth::Invalid(AppError::Unauthenticated(_)))
}

async fn serve(
    socket: WebSocket,
    http: Http,
    protocol: GraphQLProtocol,
    chosen: admission::Protocol,
    client: ClientAddr,
    lang: Lang,
) {
    let (mut out, input) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Message>(16);
    let ops = Arc::new(Mutex::new(Operations::default()));
    // When the client last sent anything (a pong included), in ms after `born`.
    let born = Instant::now();
    let seen = Arc::new(AtomicU64::new(0));
    let heard = seen.clone();
    let input = input.inspect(move |_| heard.store(millis(born.elapsed()), Ordering::Relaxed));
    let input = counted(input, ops.clone(), tx.clone(), chosen, lang);
    // The user's place under WS_MAX_PER_USER, taken by `init`, given back when the socket
    // ends however it ends (dropped with this function's state).
    let user_place: Arc<Mutex<Option<KeyPlace<i32>>>> = Arc::default();
    let (expiry_tx, expiry_rx) = oneshot::channel::<u64>();
    let state = http.state.clone();
    let shutdown = state.shutdown.clone();
    let (ping_every, idle_limit) = (state.config.ws_ping_interval, state.config.ws_idle_timeout);
    let executor = WithLoaders {
        schema: http.schemas.full.clone(),
        db: state.db.clone(),
        keys: state.keys.clone(),
        closer: tx.clone(),
        lang,
    };
    let (caps, place) = (http.sockets.clone(), user_place.clone());
    let to_forwarder = sink::unfold(tx, |tx, msg: Message| async move {
        tx.send(msg)
            .await
            .map_err(|_| axum::Error::new("socket closed"))?;
        Ok::<_, axum::Error>(tx)
    });
    let graphql = GraphQLWebSocket::new_with_pair(to_forwarder, input, executor, protocol)
        .on_connection_init(move |payload| init(state, caps, place, payload, expiry_tx, client))
        .serve();
    let forward = async move {
        let mut expiry = std::pin::pin!(expiry_after(expiry_rx));
        // graphql-transport-ws: no `connection_init` in time closes with 4408, so an
        // idle socket does not hold a connection slot (the library has no such timer).
        let init_timeout = tokio::time::sleep(INIT_TIMEOUT);
        let mut init_timeout = std::pin::pin!(init_timeout);
        let mut acked = false;
        let mut ended = HashSet::new();
        let ops = &ops;
        let mut ping = tokio::time::interval_at(born + ping_every, ping_every);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let idle = tokio::time::sleep(idle_limit);
        let mut idle = std::pin::pin!(idle);
        let last_heard = || born + Duration::from_millis(seen.load(Ordering::Relaxed));
        loop {
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else { break };
                    let msg = match msg {
                        Message::Close(Some(f)) if f.code == 1002 && f.reason == REFUSED => {
                            close(FORBIDDEN, REFUSED)
                        }
                        Message::Close(Some(f)) if f.code == 1002 && f.reason == USER_FULL => {
                            close(TOO_MANY, USER_FULL)
                        }
                        Message::Text(t) => match as_error(&t, &mut ended, &mut acked, ops) {
                            // subscriptions-transport-ws: the library says
                            // `connection_error` and ends without a close frame; the
                            // refusal closes with 4403 (or 4429) there too (EVENTS.md),
                            // after the message that says why.
                            Rewrite::Keep => match legacy_refusal(&t) {
                                Some((code, reason)) => {
                                    if !deliver(&mut out, Message::Text(t), idle_limit).await {
                                        break;
                                    }
                                    close(code, reason)
                                }
                                None => Message::Text(t),
                            },
                            Rewrite::Into(t) => Message::Text(t.into()),
                            Rewrite::Drop => continue,
                        },
                        other => other,
                    };
                    let closing = matches!(msg, Message::Close(_));
                    if !deliver(&mut out, msg, idle_limit).await || closing {
                        break;
                    }
                }
                () = &mut init_timeout, if !acked => {
                    deliver(&mut out, close(4408, "Connection initialisation timeout"), idle_limit).await;
                    break;
                }
                () = shutdown.cancelled() => {
                    deliver(&mut out, close(GOING_AWAY, "the server is shutting down"), idle_limit).await;
                    break;
                }
                () = &mut expiry => {
                    deliver(&mut out, close(FORBIDDEN, "Forbidden: the access token expired"), idle_limit).await;
                    break;
                }
                _ = ping.tick() => {
                    // Only a silent socket is pinged; browsers answer at the protocol
                    // level, whatever the page's script does.
                    if last_heard().elapsed() >= ping_every
                        && !deliver(&mut out, Message::Ping(Default::default()), idle_limit).await
                    {
                        break;
                    }
                }
                () = &mut idle => {
                    let heard = last_heard();
                    if heard.elapsed() >= idle_limit {
                        deliver(&mut out, close(GOING_AWAY, IDLE), idle_limit).await;
                        break;
                    }
                    idle.as_mut().reset(heard + idle_limit);
                }
            }
        }
    };
    // The forwarder sends what the library said last (its close frame) before ending.
    let mut graphql = std::pin::pin!(graphql);
    let mut forward = std::pin::pin!(forward);
    tokio::select! {
        () = &mut graphql => forward.await,
        () = &mut forward => {}
    }
}

/// Sends `msg` unless the peer does not take it within `limit` (it neither reads nor
/// closes: as gone as a silent peer); whether it went.
async fn deliver<S>(out: &mut S, msg: Message, limit: Duration) -> bool
where
    S: Sink<Message> + Unpin,
{
    matches!(tokio::time::timeout(limit, out.send(msg)).await, Ok(Ok(())))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(super) fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
