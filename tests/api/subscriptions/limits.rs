//! One user or one address cannot hold every connection: WebSockets are capped per user
//! (`WS_MAX_PER_USER`, close 4429 at `connection_init`), per address
//! (`WS_MAX_PER_ADDRESS`, close 4429 after the upgrade) and in all (`MAX_CONNECTIONS`
//! minus `WS_RESERVED_CONNECTIONS`, 503 before the upgrade), so `/health` and requests
//! of others are still served; a silent socket is pinged and closed.
use std::{net::SocketAddr, time::Duration};

use defect_control::entities::enums::Role;
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};
use tokio_tungstenite::{
    MaybeTlsStream, client_async, connect_async,
    tungstenite::{self, client::IntoClientRequest},
};

use super::{Got, Ws, connect, open_with, recv, send, serve};
use crate::helpers::{Actor, apps_with};

/// A request over a fresh connection to the real server; the whole response.
async fn over_http(addr: SocketAddr, request: String) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// `/health` and `me` of `other` over HTTP are served.
async fn others_are_served(addr: SocketAddr, other: &Actor) {
    let health = over_http(
        addr,
        "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let q = json!({ "query": "{ me { username } }" }).to_string();
    let me = over_http(
        addr,
        format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{q}",
            other.token,
            q.len()
        ),
    )
    .await;
    assert!(
        me.contains(&format!("\"username\":\"{}\"", other.username)),
        "{me}"
    );
}

/// A socket connected from `from` (another loopback address).
async fn connect_from(from: [u8; 4], addr: SocketAddr) -> Ws {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind((from, 0).into()).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    let mut req = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    client_async(req, MaybeTlsStream::Plain(tcp))
        .await
        .unwrap()
        .0
}

async fn init(ws: &mut Ws, token: &str) -> Got {
    send(
        ws,
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }),
    )
    .await;
    recv(ws, Duration::from_secs(5)).await
}

#[tokio::test]
async fn sockets_past_ws_max_per_user_are_closed_with_4429_and_others_are_served() {
    for app in apps_with(|c| c.ws_max_per_user = 4).await {
        let observer = app.actor(Role::Observer).await;
        let other = app.actor(Role::Manager).await;
        let (addr, _stop) = serve(&app).await;
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(open_with(addr, &observer.token).await);
        }
        // However many more it tries (a refreshed token is the same user).
        for _ in 0..3 {
            let mut ws = connect(addr).await;
            match init(&mut ws, &observer.token).await {
                Got::Closed(code) => assert_eq!(code, Some(4429), "[{}]", app.backend),
                other => panic!("[{}] {other:?}", app.backend),
            }
        }
        others_are_served(addr, &other).await;
        let _theirs = open_with(addr, &other.token).await;
        // A socket that ends gives its place back: the next one is admitted.
        drop(held.pop());
        let mut admitted = false;
        for _ in 0..50 {
            let mut ws = connect(addr).await;
            match init(&mut ws, &observer.token).await {
                Got::Json(v) if v["type"] == "connection_ack" => {
                    admitted = true;
                    break;
                }
                Got::Closed(Some(4429)) => tokio::time::sleep(Duration::from_millis(50)).await,
                other => panic!("[{}] {other:?}", app.backend),
            }
        }
        assert!(
            admitted,
            "[{}] the closed socket's place came back",
            app.backend
        );
    }
}

#[tokio::test]
async fn sockets_past_ws_max_per_address_are_closed_with_4429_and_others_are_served() {
    let app = apps_with(|c| c.ws_max_per_address = 4).await.remove(0);
    let other = app.actor(Role::Manager).await;
    let (addr, _stop) = serve(&app).await;
    // Counted from the upgrade: sockets that never say `connection_init` count too.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect(addr).await);
    }
    for _ in 0..3 {
        let mut ws = connect(addr).await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Closed(code) => assert_eq!(code, Some(4429)),
            other => panic!("{other:?}"),
        }
    }
    others_are_served(addr, &other).await;
    // Another address is not affected.
    let mut theirs = connect_from([127, 0, 0, 2], addr).await;
    match init(&mut theirs, &other.token).await {
        Got::Json(v) => assert_eq!(v["type"], "connection_ack", "{v}"),
        got => panic!("{got:?}"),
    }
}

#[tokio::test]
async fn sockets_cannot_take_the_connections_kept_for_plain_http() {
    let app = apps_with(|c| {
        c.max_connections = 6;
        c.ws_reserved_connections = 2;
    })
    .await
    .remove(0);
    let observer = app.actor(Role::Observer).await;
    let other = app.actor(Role::Manager).await;
    let (addr, _stop) = serve(&app).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(open_with(addr, &observer.token).await);
    }
    // The fifth upgrade is refused before it happens, with the JSON error body.
    let mut req = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    match connect_async(req).await {
        Err(tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), 503);
            assert!(res.headers().contains_key("retry-after"));
            let body: serde_json::Value =
                serde_json::from_slice(res.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE", "{body}");
        }
        other => panic!("{:?}", other.map(|_| "upgraded")),
    }
    // The two kept connections serve /health and a query.
    others_are_served(addr, &other).await;
}

#[tokio::test]
async fn a_silent_socket_is_pinged_then_closed_and_one_that_answers_stays() {
    let app = apps_with(|c| {
        c.ws_ping_interval = Duration::from_millis(200);
        c.ws_idle_timeout = Duration::from_millis(700);
    })
    .await
    .remove(0);
    let user = app.actor(Role::Observer).await;
    let (addr, _stop) = serve(&app).await;
    let mut silent = open_with(addr, &user.token).await;
    let mut alive = open_with(addr, &user.token).await;
    // `alive` reads (so its client answers each ping) for well past the idle timeout...
    assert!(matches!(
        recv(&mut alive, Duration::from_millis(2000)).await,
        Got::Nothing
    ));
    // ...while `silent` read nothing: it was pinged, then closed. Its frames are read
    // raw: a client library would answer the ping before showing the close.
    let mut raw = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(3),
        silent.get_mut().read_to_end(&mut raw),
    )
    .await
    .expect("closed by the server")
    .unwrap();
    // Unmasked server frames: empty pings (0x89 0x00), one per silent interval, then a
    // close (0x88) whose payload starts with the code.
    let mut close = &raw[..];
    while close.starts_with(&[0x89, 0x00]) {
        close = &close[2..];
    }
    assert!(raw.len() - close.len() >= 2, "pinged first: {raw:?}");
    assert_eq!(close[0], 0x88, "{raw:?}");
    assert_eq!(u16::from_be_bytes([close[2], close[3]]), 1001, "{raw:?}");
    // The live one still works.
    send(
        &mut alive,
        json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ me { id } }" } }),
    )
    .await;
    match recv(&mut alive, Duration::from_secs(5)).await {
        Got::Json(v) => assert_eq!(v["type"], "next", "{v}"),
        other => panic!("{other:?}"),
    }
}

/// Issue 20 (item 7): a socket starts operations at a bounded rate. 150 `subscribe`s
/// sent at once (each a query that completes at once, so the 32-operation cap is not
/// what stops them): at most the burst plus the rate's worth run, the rest get an
/// `error` with RATE_LIMITED for their id, and the socket goes on; a second later the
/// next operation runs.
#[tokio::test]
async fn a_socket_starts_operations_at_a_bounded_rate() {
    use defect_control::http::ws::{OPERATION_BURST, OPERATIONS_PER_SECOND};
    for app in apps_with(|_| {}).await {
        let user = app.actor(Role::Observer).await;
        let (addr, _stop) = serve(&app).await;
        let mut ws = open_with(addr, &user.token).await;
        let started = std::time::Instant::now();
        let n = 150;
        for i in 0..n {
            send(
                &mut ws,
                json!({ "id": format!("q{i}"), "type": "subscribe", "payload": { "query": "{ __typename }" } }),
            )
            .await;
        }
        let (mut ran, mut too_fast, mut answered) = (0, 0, 0);
        while answered < n {
            match recv(&mut ws, Duration::from_secs(5)).await {
                Got::Json(v) if v["type"] == "next" => ran += 1,
                Got::Json(v) if v["type"] == "complete" => answered += 1,
                Got::Json(v) if v["type"] == "error" => {
                    answered += 1;
                    assert_eq!(v["payload"][0]["extensions"]["code"], "RATE_LIMITED", "{v}");
                    let message = v["payload"][0]["message"].as_str().unwrap_or_default();
                    if message.contains("too fast") {
                        too_fast += 1;
                    }
                }
                other => panic!("[{}] after {answered}: {other:?}", app.backend),
            }
        }
        let allowed = OPERATION_BURST + OPERATIONS_PER_SECOND * started.elapsed().as_secs_f64();
        assert!(
            f64::from(ran) <= allowed.ceil(),
            "[{}] {ran} ran, at most {allowed} allowed",
            app.backend
        );
        assert!(too_fast > 0, "[{}] none refused for its rate", app.backend);
        tokio::time::sleep(Duration::from_secs(1)).await;
        send(
            &mut ws,
            json!({ "id": "after", "type": "subscribe", "payload": { "query": "{ __typename }" } }),
        )
        .await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Json(v) => assert_eq!(
                (&v["type"], &v["id"]),
                (&json!("next"), &json!("after")),
                "{v}"
            ),
            other => panic!("{other:?}"),
        }
    }
}
