//! What the socket admits before the library or the executor sees it: every document
//! through the same admission as over HTTP (`http/graphql/document.rs`: the 64 KiB text
//! limit, tokens and nesting from the text, then the parse and the fragment expansion
//! count on the blocking pool), and the protocol's answers to messages it does not
//! take (one it cannot read, one too large, an operation before `connection_init`).
//!
//! Why here and not in the library: async-graphql's executor walks every fragment
//! spread for its recursion-depth check before any extension sees the document, so a
//! 1 KiB document of doubling fragments cost seconds of CPU per `subscribe`.
use crate::i18n::Msg;
use std::str::FromStr;

use async_graphql::{Request, Response, http::WebSocketProtocols};
use axum::{
    extract::ws::Message,
    http::{HeaderMap, header::SEC_WEBSOCKET_PROTOCOL},
};

use super::close;
use crate::{error::AppError, graphql::errors, http::graphql::document};

/// graphql-transport-ws: "Invalid message".
pub(super) const INVALID: u16 = 4400;
/// graphql-transport-ws: "Unauthorized" (an operation before `connection_ack`).
const UNAUTHORIZED: u16 = 4401;
/// RFC 6455: "message too big", what the legacy protocol's server (on the `ws` package,
/// `maxPayload`) closes with.
const TOO_BIG: u16 = 1009;

/// The subprotocol the upgrade agreed on, chosen as the library chooses it (the first
/// of the client's list that it knows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    /// graphql-transport-ws (graphql-ws's `PROTOCOL.md`).
    TransportWs,
    /// subscriptions-transport-ws, negotiated as `graphql-ws`.
    Legacy,
}

impl Protocol {
    pub(super) fn of(headers: &HeaderMap) -> Self {
        let chosen = headers
            .get(SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok())
            .and_then(|list| {
                list.split(',')
                    .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
            });
        match chosen {
            Some(WebSocketProtocols::SubscriptionsTransportWS) => Protocol::Legacy,
            _ => Protocol::TransportWs,
        }
    }

    /// A message the library cannot read (not JSON, an unknown type, a field missing).
    /// graphql-transport-ws closes with 4400. The legacy server answers
    /// `connection_error` and reads on (its `onMessage`); its clients report it.
    pub(super) fn invalid(self) -> Message {
        match self {
            Protocol::TransportWs => close(INVALID, "Invalid message"),
            Protocol::Legacy => Message::Text(
                serde_json::json!({
                    "type": "connection_error",
                    "payload": { "message": "Invalid message" },
                })
                .to_string()
                .into(),
            ),
        }
    }

    /// A message over the socket's size limit: it was not read, and the stream cannot
    /// go on after it. graphql-transport-ws: 4400 (a message the server does not take);
    /// legacy: 1009, as its server's WebSocket library closes.
    pub(super) fn too_big(self) -> Message {
        match self {
            Protocol::TransportWs => close(INVALID, "Invalid message: too large"),
            Protocol::Legacy => close(TOO_BIG, "Message too big"),
        }
    }

    /// An operation before `connection_init`. graphql-transport-ws closes with 4401. The
    /// legacy server runs it without a connection context (nothing requires the init
    /// first), so it fails as an anonymous request would: an `error` for its id, and
    /// the socket stays open for the `connection_init` to come.
    pub(super) fn before_init(self, id: &str, lang: crate::i18n::Lang) -> Message {
        match self {
            Protocol::TransportWs => close(UNAUTHORIZED, "Unauthorized"),
            Protocol::Legacy => {
                let err = AppError::Unauthenticated(Msg::AuthRequired);
                let error = errors::coded(err.message(lang), err.code());
                Message::Text(error_message(id, &[error]).into())
            }
        }
    }
}

/// A message that says why the socket's reading stopped, if it says something the
/// client can use: one over the size limit.
pub(super) fn read_error(protocol: Protocol, err: &axum::Error) -> Option<Message> {
    // axum hides tungstenite's error type; its text is the only handle
    // (tungstenite's `Error::Capacity`).
    err.to_string()
        .starts_with("Space limit exceeded")
        .then(|| protocol.too_big())
}

/// The `error` message for operation `id` (both protocols: the legacy `error` carries
/// the same list).
pub(super) fn error_message(id: &str, errors: &[async_graphql::ServerError]) -> String {
    serde_json::json!({ "id": id, "type": "error", "payload": errors }).to_string()
}

/// The request's document admitted as over HTTP and handed to the executor parsed, or
/// the refusal as the operation's only response (the forwarder turns it into an `error`
/// for its id). The executor's own walks then run on a document within the limits.
pub(super) async fn document(mut request: Request) -> Result<Request, Response> {
    match document::admit(&mut request).await {
        Ok(admitted) => {
            request.set_parsed_query(admitted.doc);
            Ok(request.data(errors::DocumentChecked))
        }
        Err(e) => Err(Response::from_errors(vec![e])),
    }
}
