//! One admission for every document, whatever the transport: each abusive document goes
//! through HTTP GET, HTTP POST (JSON), multipart, WebSocket (graphql-transport-ws) and
//! the legacy `graphql-ws`, and is refused with the same code and message as over HTTP
//! POST, quickly, and on a socket before anything of the operation ran (not even the
//! read of its viewer: no SQL statement), the socket going on. Then the protocol's
//! answers to messages a socket does not take.
//!
//! Every document starts with a spread of a 27-level doubling fragment chain (the
//! probe's 1.1 KiB document): whatever walks the document before the admission follows
//! 2^27 spreads (async-graphql's recursion-depth check: 6 s of CPU in a release build,
//! far more here), so a refusal that comes from anything but the admission is slow and
//! comes after the operation's viewer was read.
use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use axum::{body::Body, http::Request};
use defect_control::graphql::limits;
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::{
    connect_async,
    tungstenite::{Message, client::IntoClientRequest},
};

use crate::{
    helpers::apps,
    subscriptions::{Got, Ws, connect, open_with, recv, send, serve},
};

/// The probe's depth: 2^27 spreads for a walk that follows each.
const LEVELS: usize = 27;
/// Generous: an admitted refusal takes milliseconds; the walk it prevents, seconds.
const FAST: Duration = Duration::from_secs(5);

/// `fragment F0 on Query { ...F1 ...F1 } … fragment F27 on Query { __typename }`.
fn fan_out() -> String {
    let mut doc = String::new();
    for i in 0..LEVELS {
        doc.push_str(&format!(
            " fragment F{i} on Query {{ ...F{n} ...F{n} }}",
            n = i + 1
        ));
    }
    doc.push_str(&format!(" fragment F{LEVELS} on Query {{ __typename }}"));
    doc
}

/// (what, document, words of the refusal's message).
fn documents() -> Vec<(&'static str, String, &'static str)> {
    let chain = fan_out();
    let deep = format!(
        "{{ ...F0 {}b{} }}{chain}",
        "a { ".repeat(limits::MAX_NESTING + 5),
        " }".repeat(limits::MAX_NESTING + 5)
    );
    let aliases: String = (0..=limits::MAX_ALIASES)
        .map(|i| format!("a{i}: __typename "))
        .collect();
    vec![
        (
            "fragment fan-out",
            format!("{{ ...F0 }}{chain}"),
            "fields with its fragments expanded",
        ),
        ("too deep", deep, "nests brackets deeper than"),
        (
            "too many aliases",
            format!("{{ ...F0 {aliases}}}{chain}"),
            "aliases; the limit is",
        ),
        (
            "too large text",
            format!(
                "{{ ...F0 }}{chain} #{}",
                "x".repeat(limits::MAX_DOCUMENT_BYTES)
            ),
            "bytes; the limit is",
        ),
        (
            "too many tokens",
            format!("{{ ...F0 {}}}{chain}", "a ".repeat(limits::MAX_TOKENS)),
            "tokens",
        ),
    ]
}

/// The first error of a GraphQL response: (code, message).
fn first_error(errors: &Value) -> (String, String) {
    let e = &errors[0];
    (
        e["extensions"]["code"].as_str().unwrap_or("<none>").into(),
        e["message"].as_str().unwrap_or("<none>").into(),
    )
}

fn multipart(token: &str, query: &str) -> Request<Body> {
    multipart_with(token, json!({ "query": query, "variables": {} }))
}

fn multipart_with(token: &str, operations: Value) -> Request<Body> {
    let boundary = "----admission-boundary";
    let mut body = String::new();
    for (name, value) in [
        ("operations", operations.to_string()),
        ("map", "{}".to_owned()),
    ] {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    Request::post("/graphql")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body))
        .unwrap()
}

async fn connect_legacy(addr: std::net::SocketAddr, token: &str) -> Ws {
    let mut req = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "graphql-ws".parse().unwrap());
    let (mut ws, _) = connect_async(req).await.unwrap();
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
    )
    .await;
    match recv(&mut ws, Duration::from_secs(5)).await {
        Got::Json(v) => assert_eq!(v["type"], "connection_ack", "{v}"),
        other => panic!("no ack: {other:?}"),
    }
    ws
}

/// Sends `query` as operation `id` (`kind`: `subscribe` or legacy `start`) and returns
/// the refusal: the operation's `error` message, its errors' first code and message.
async fn refused_on_socket(ws: &mut Ws, kind: &str, id: &str, query: &str) -> (String, String) {
    send(
        ws,
        json!({ "id": id, "type": kind, "payload": { "query": query } }),
    )
    .await;
    match recv(ws, Duration::from_secs(120)).await {
        Got::Json(v) => {
            assert_eq!((&v["type"], &v["id"]), (&json!("error"), &json!(id)), "{v}");
            first_error(&v["payload"])
        }
        other => panic!("{id}: {other:?}"),
    }
}

/// The socket still runs operations: `{ __typename }` answers `answer` (`next`, legacy
/// `data`), then `complete`.
async fn still_usable(ws: &mut Ws, kind: &str, answer: &str) {
    send(
        ws,
        json!({ "id": "ok", "type": kind, "payload": { "query": "{ __typename }" } }),
    )
    .await;
    match recv(ws, Duration::from_secs(5)).await {
        Got::Json(v) => {
            assert_eq!(v["type"], answer, "{v}");
            assert_eq!(v["payload"]["data"]["__typename"], "Query", "{v}");
        }
        other => panic!("{other:?}"),
    }
    match recv(ws, Duration::from_secs(5)).await {
        Got::Json(v) => assert_eq!((&v["type"], &v["id"]), (&json!("complete"), &json!("ok"))),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn every_transport_refuses_each_abusive_document_with_the_same_code_before_walking_it() {
    for app in apps().await {
        let observer = app.cast().await.observer;
        let (addr, _stop) = serve(&app).await;
        let mut ws = open_with(addr, &observer.token).await;
        let mut legacy = connect_legacy(addr, &observer.token).await;
        for (what, doc, words) in documents() {
            let at = |t: &str| format!("[{}] {what} over {t}", app.backend);
            // The reference: HTTP POST with a JSON body.
            let started = Instant::now();
            let res = app
                .post_json("/graphql", Some(&observer.token), json!({ "query": doc }))
                .await;
            assert!(started.elapsed() < FAST, "{}", at("POST"));
            let expected = first_error(&res.body["errors"]);
            assert_eq!(expected.0, "GRAPHQL_VALIDATION_FAILED", "{}", at("POST"));
            assert!(expected.1.contains(words), "{}: {expected:?}", at("POST"));

            // GET: a URI holds at most 64 KiB, so the text over the limit cannot be
            // sent this way at all (the `http` crate refuses to build the request).
            if doc.len() <= limits::MAX_DOCUMENT_BYTES {
                let uri = format!(
                    "/graphql?query={}",
                    percent_encoding::utf8_percent_encode(&doc, percent_encoding::NON_ALPHANUMERIC)
                );
                let started = Instant::now();
                let res = app
                    .request(
                        Request::get(uri)
                            .header("authorization", format!("Bearer {}", observer.token))
                            .header("accept", "application/json")
                            .body(Body::empty())
                            .unwrap(),
                    )
                    .await;
                assert!(started.elapsed() < FAST, "{}", at("GET"));
                assert_eq!(first_error(&res.body["errors"]), expected, "{}", at("GET"));
            }

            let started = Instant::now();
            let res = app.request(multipart(&observer.token, &doc)).await;
            assert!(started.elapsed() < FAST, "{}", at("multipart"));
            assert_eq!(
                first_error(&res.body["errors"]),
                expected,
                "{}",
                at("multipart")
            );

            // The sockets: refused before the operation's viewer is read (the first
            // thing an admitted operation does), so no statement runs meanwhile.
            for (ws, kind, transport) in [
                (&mut ws, "subscribe", "graphql-transport-ws"),
                (&mut legacy, "start", "graphql-ws"),
            ] {
                let statements = app.statements.load(Ordering::SeqCst);
                let started = Instant::now();
                let got = refused_on_socket(ws, kind, what, &doc).await;
                assert!(started.elapsed() < FAST, "{}", at(transport));
                assert_eq!(got, expected, "{}", at(transport));
                assert_eq!(
                    app.statements.load(Ordering::SeqCst),
                    statements,
                    "{}: the operation ran before its document was refused",
                    at(transport)
                );
            }
        }
        still_usable(&mut ws, "subscribe", "next").await;
        still_usable(&mut legacy, "start", "data").await;
    }
}

async fn raw(ws: &mut Ws, text: String) {
    ws.send(Message::Text(text.into())).await.unwrap();
}

/// graphql-transport-ws: a message the server cannot read, or one over the socket's
/// size limit, closes with 4400 (with a close frame, not a dropped connection); a
/// `subscribe` before `connection_init` closes with 4401.
#[tokio::test]
async fn messages_a_socket_does_not_take_close_it_with_the_protocols_codes() {
    for app in apps().await {
        let observer = app.cast().await.observer;
        let (addr, _stop) = serve(&app).await;
        for bad in [
            "not json".to_owned(),
            json!({ "type": "unknown" }).to_string(),
            json!({ "id": "1", "type": "subscribe" }).to_string(),
            json!({ "type": "ping", "payload": "x".repeat(300 * 1024) }).to_string(),
        ] {
            let mut ws = open_with(addr, &observer.token).await;
            raw(&mut ws, bad.clone()).await;
            let got = recv(&mut ws, Duration::from_secs(5)).await;
            assert!(
                matches!(got, Got::Closed(Some(4400))),
                "[{}] {}: {got:?}",
                app.backend,
                &bad[..bad.len().min(40)]
            );
        }
        let mut ws = connect(addr).await;
        send(
            &mut ws,
            json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ __typename }" } }),
        )
        .await;
        let got = recv(&mut ws, Duration::from_secs(5)).await;
        assert!(
            matches!(got, Got::Closed(Some(4401))),
            "[{}] {got:?}",
            app.backend
        );
    }
}

/// subscriptions-transport-ws, as its server does: a message it cannot read gets
/// `connection_error` and the socket reads on; a `start` before `connection_init`
/// fails as an anonymous operation (an `error` for its id) and the socket stays open
/// for the init; one over the size limit closes with 1009.
#[tokio::test]
async fn the_legacy_protocol_answers_them_as_its_server_does() {
    for app in apps().await {
        let observer = app.cast().await.observer;
        let (addr, _stop) = serve(&app).await;
        let mut req = format!("ws://{addr}/graphql/ws")
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("sec-websocket-protocol", "graphql-ws".parse().unwrap());
        let (mut ws, _) = connect_async(req).await.unwrap();
        send(
            &mut ws,
            json!({ "id": "early", "type": "start", "payload": { "query": "{ __typename }" } }),
        )
        .await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Json(v) => {
                assert_eq!((&v["type"], &v["id"]), (&json!("error"), &json!("early")));
                assert_eq!(first_error(&v["payload"]).0, "UNAUTHENTICATED", "{v}");
            }
            other => panic!("[{}] {other:?}", app.backend),
        }
        raw(&mut ws, "not json".into()).await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Json(v) => assert_eq!(v["type"], "connection_error", "{v}"),
            other => panic!("[{}] {other:?}", app.backend),
        }
        send(
            &mut ws,
            json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", observer.token) } }),
        )
        .await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Json(v) => assert_eq!(v["type"], "connection_ack", "{v}"),
            other => panic!("[{}] no ack: {other:?}", app.backend),
        }
        still_usable(&mut ws, "start", "data").await;
        raw(
            &mut ws,
            json!({ "type": "ping", "payload": "x".repeat(300 * 1024) }).to_string(),
        )
        .await;
        let got = recv(&mut ws, Duration::from_secs(5)).await;
        assert!(
            matches!(got, Got::Closed(Some(1009))),
            "[{}] {got:?}",
            app.backend
        );
    }
}

/// The multipart `operations` field is as bounded as a JSON body (MAX_JSON_BODY_BYTES),
/// not by the file limit (20 MiB), even with a valid token; within it, it runs.
#[tokio::test]
async fn multipart_operations_are_bounded_like_a_json_body() {
    for app in apps().await {
        let observer = app.cast().await.observer;
        let limit = usize::try_from(app.state.config.max_json_body_bytes).unwrap();
        let ops = |padding: usize| json!({ "query": "{ __typename }", "variables": { "p": "x".repeat(padding) } });
        let res = app
            .request(multipart_with(&observer.token, ops(limit - 1024)))
            .await;
        assert_eq!(res.body["data"]["__typename"], "Query", "{}", res.body);
        let res = app
            .request(multipart_with(&observer.token, ops(limit + 1)))
            .await;
        assert_eq!(res.status, 413, "[{}] {}", app.backend, res.body);
        let (code, message) = first_error(&res.body["errors"]);
        assert_eq!(code, "PAYLOAD_TOO_LARGE");
        assert!(message.contains("MAX_JSON_BODY_BYTES"), "{message}");
    }
}
