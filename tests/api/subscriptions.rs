//! Live updates over `GET /graphql/ws` (graphql-transport-ws) on a real server: auth in
//! `connection_init`, delivery after an HTTP commit, visibility re-checked at delivery,
//! and resume with `after` without gap or duplicate.
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest},
};

use crate::{
    defects::{create, world},
    helpers::{Actor, TestApp, apps, apps_with},
};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const SUBSCRIBE: &str = "subscription($p: ID, $d: ID, $a: String) { defectEvents(projectId: $p, defectId: $d, after: $a) { id kind cursor defectId comment { body } } }";
const COMMENT: &str =
    "mutation($id: ID!, $b: String!) { addComment(defectId: $id, body: $b) { id } }";

/// What the server sent: a protocol message, or the close code.
#[derive(Debug)]
enum Got {
    Json(Value),
    Closed(Option<u16>),
    Nothing,
}

async fn serve(app: &TestApp) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(defect_control::server::serve(
        listener,
        app.state.clone(),
        async move {
            rx.await.ok();
        },
        Duration::from_secs(1),
    ));
    (addr, tx)
}

async fn connect(addr: SocketAddr) -> Ws {
    let mut req = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (ws, res) = connect_async(req).await.unwrap();
    assert_eq!(
        res.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    ws
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next protocol message within `wait` (pings answered and skipped).
async fn recv(ws: &mut Ws, wait: Duration) -> Got {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let Ok(msg) = tokio::time::timeout_at(deadline, ws.next()).await else {
            return Got::Nothing;
        };
        match msg {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "ping" {
                    send(ws, json!({ "type": "pong" })).await;
                    continue;
                }
                return Got::Json(v);
            }
            Some(Ok(Message::Close(frame))) => return Got::Closed(frame.map(|f| f.code.into())),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Got::Closed(None),
        }
    }
}

/// A socket past `connection_ack`.
async fn open(addr: SocketAddr, actor: &Actor) -> Ws {
    let mut ws = connect(addr).await;
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", actor.token) } }),
    )
    .await;
    match recv(&mut ws, Duration::from_secs(5)).await {
        Got::Json(v) => assert_eq!(v["type"], "connection_ack", "{v}"),
        other => panic!("no ack: {other:?}"),
    }
    ws
}

async fn subscribe(ws: &mut Ws, id: &str, vars: Value) {
    send(
        ws,
        json!({ "id": id, "type": "subscribe", "payload": { "query": SUBSCRIBE, "variables": vars } }),
    )
    .await;
    // No acknowledgement exists for `subscribe`: give the server time to take the
    // starting point before the test writes events.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// The next delivered event, or `None` when nothing arrives within `wait`.
async fn next_event(ws: &mut Ws, wait: Duration) -> Option<Value> {
    match recv(ws, wait).await {
        Got::Json(v) if v["type"] == "next" => {
            assert!(v["payload"].get("errors").is_none(), "{v}");
            Some(v["payload"]["data"]["defectEvents"].clone())
        }
        Got::Nothing => None,
        other => panic!("expected an event or nothing: {other:?}"),
    }
}

/// `addComment` over a real HTTP connection to the server.
async fn comment_over_http(addr: SocketAddr, actor: &Actor, defect: &Value, body: &str) {
    let payload = json!({ "query": COMMENT, "variables": { "id": defect, "b": body } }).to_string();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        actor.token,
        payload.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"addComment\""), "{text}");
}

#[tokio::test]
async fn connection_init_without_a_valid_token_is_closed_with_4403() {
    for app in apps().await {
        let cast = app.cast().await;
        let (addr, _stop) = serve(&app).await;
        for payload in [
            json!(null),
            json!({}),
            json!({ "authorization": "Bearer not-a-token" }),
            json!({ "authorization": cast.manager.token }),
        ] {
            let mut ws = connect(addr).await;
            send(
                &mut ws,
                json!({ "type": "connection_init", "payload": payload }),
            )
            .await;
            match recv(&mut ws, Duration::from_secs(5)).await {
                Got::Closed(code) => assert_eq!(code, Some(4403), "{payload}"),
                other => panic!("{payload}: {other:?}"),
            }
        }
        // A deactivated user's token is refused like an invalid one.
        app.ok(
            &cast.admin,
            "mutation($id: ID!) { updateUser(id: $id, input: { isActive: false }) { id } }",
            json!({ "id": cast.observer.gid() }),
        )
        .await;
        let mut ws = connect(addr).await;
        send(
            &mut ws,
            json!({ "type": "connection_init", "payload": { "AUTHORIZATION": format!("Bearer {}", cast.observer.token) } }),
        )
        .await;
        assert!(matches!(
            recv(&mut ws, Duration::from_secs(5)).await,
            Got::Closed(Some(4403))
        ));
        // The key's case does not matter (`open` sends `Authorization`).
        open(addr, &cast.manager).await;
    }
}

#[tokio::test]
async fn an_http_commit_arrives_within_a_second_and_an_outsider_gets_nothing() {
    for app in apps().await {
        let w = world(&app).await;
        let (mgr, outsider) = (&w.cast.manager, &w.cast.outsider);
        let d = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "stageId": w.stage, "title": "Crack" }),
        )
        .await;
        let (addr, _stop) = serve(&app).await;
        let mut member = open(addr, mgr).await;
        subscribe(&mut member, "1", json!({ "p": w.project })).await;
        let mut stranger = open(addr, outsider).await;
        subscribe(&mut stranger, "1", json!({})).await;

        let t = Instant::now();
        comment_over_http(addr, mgr, &d["id"], "Seen from the scaffold").await;
        let e = next_event(&mut member, Duration::from_secs(1))
            .await
            .expect("the event within 1 s");
        let took = t.elapsed();
        assert_eq!(e["kind"], "COMMENTED");
        assert_eq!(e["defectId"], d["id"]);
        assert_eq!(e["comment"]["body"], "Seen from the scaffold");
        println!("{}: delivered in {took:?}", app.backend);
        // Through the wake-up, not the 1 s poll.
        assert!(took < Duration::from_millis(900), "{took:?}");
        assert!(
            next_event(&mut stranger, Duration::from_millis(1500))
                .await
                .is_none()
        );
        assert!(
            next_event(&mut member, Duration::from_millis(10))
                .await
                .is_none()
        );

        // Arguments the outsider may not use end the subscription with a code.
        for (vars, code) in [
            (json!({ "p": w.project }), "NOT_FOUND"),
            (json!({ "d": d["id"] }), "NOT_FOUND"),
            (json!({ "d": "999999" }), "NOT_FOUND"),
            (json!({ "a": "not a cursor" }), "BAD_USER_INPUT"),
        ] {
            send(
                &mut stranger,
                json!({ "id": "2", "type": "subscribe", "payload": { "query": SUBSCRIBE, "variables": vars } }),
            )
            .await;
            match recv(&mut stranger, Duration::from_secs(5)).await {
                Got::Json(v) => {
                    assert_eq!(v["type"], "error", "{v}");
                    assert_eq!(v["payload"][0]["extensions"]["code"], code, "{vars}: {v}");
                }
                other => panic!("{vars}: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn deactivation_or_removal_from_the_project_stops_delivery() {
    for app in apps().await {
        let w = world(&app).await;
        let (admin, mgr, eng) = (&w.cast.admin, &w.cast.manager, &w.cast.engineer);
        let d = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "stageId": w.stage, "title": "Crack" }),
        )
        .await;
        let (addr, _stop) = serve(&app).await;
        let mut ws = open(addr, eng).await;
        subscribe(&mut ws, "1", json!({})).await;
        comment_over_http(addr, mgr, &d["id"], "one").await;
        assert_eq!(
            next_event(&mut ws, Duration::from_secs(1)).await.unwrap()["comment"]["body"],
            "one"
        );
        app.ok(
            admin,
            "mutation($p: ID!, $u: ID!) { removeProjectMember(projectId: $p, userId: $u) { id } }",
            json!({ "p": w.project, "u": eng.gid() }),
        )
        .await;
        comment_over_http(addr, mgr, &d["id"], "two").await;
        assert!(
            next_event(&mut ws, Duration::from_millis(1500))
                .await
                .is_none()
        );

        // Back in the project, then deactivated: the stream ends.
        crate::builders::member(&app, w.project.parse().unwrap(), eng.id).await;
        let mut ws = open(addr, eng).await;
        subscribe(&mut ws, "1", json!({})).await;
        app.ok(
            admin,
            "mutation($id: ID!) { updateUser(id: $id, input: { isActive: false }) { id } }",
            json!({ "id": eng.gid() }),
        )
        .await;
        comment_over_http(addr, mgr, &d["id"], "three").await;
        // The subscription ends (`complete`) instead of delivering "three".
        match recv(&mut ws, Duration::from_millis(1500)).await {
            Got::Json(v) => assert_eq!(v, json!({ "id": "1", "type": "complete" })),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn resuming_with_after_replays_the_missed_events_then_goes_live_without_gap_or_duplicate() {
    for app in apps().await {
        let w = world(&app).await;
        let mgr = &w.cast.manager;
        let d = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "stageId": w.stage, "title": "Crack" }),
        )
        .await;
        let (addr, _stop) = serve(&app).await;
        let mut ws = open(addr, mgr).await;
        subscribe(&mut ws, "1", json!({ "d": d["id"] })).await;
        comment_over_http(addr, mgr, &d["id"], "c1").await;
        let first = next_event(&mut ws, Duration::from_secs(1)).await.unwrap();
        assert_eq!(first["comment"]["body"], "c1");
        drop(ws);

        for body in ["c2", "c3", "c4"] {
            comment_over_http(addr, mgr, &d["id"], body).await;
        }
        let mut ws = open(addr, mgr).await;
        subscribe(&mut ws, "1", json!({ "d": d["id"], "a": first["cursor"] })).await;
        comment_over_http(addr, mgr, &d["id"], "c5").await;
        let mut got = Vec::new();
        while let Some(e) = next_event(&mut ws, Duration::from_secs(1)).await {
            got.push(
                e["comment"]["body"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{e}"))
                    .to_owned(),
            );
        }
        assert_eq!(got, ["c2", "c3", "c4", "c5"]);
    }
}

#[tokio::test]
async fn the_socket_is_closed_with_4403_when_its_access_token_expires() {
    for app in apps_with(|c| c.access_token_ttl = Duration::from_secs(2)).await {
        let w = world(&app).await;
        let (addr, _stop) = serve(&app).await;
        let t = Instant::now();
        let mut ws = open(addr, &w.cast.manager).await;
        subscribe(&mut ws, "1", json!({})).await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Closed(code) => assert_eq!(code, Some(4403)),
            other => panic!("{other:?}"),
        }
        // At the token's expiry (whole seconds), not at once.
        assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    }
}

#[tokio::test]
async fn a_socket_without_connection_init_is_closed_with_4408() {
    for app in apps().await {
        let (addr, _stop) = serve(&app).await;
        let t = Instant::now();
        let mut ws = connect(addr).await;
        match recv(&mut ws, Duration::from_secs(15)).await {
            Got::Closed(code) => assert_eq!(code, Some(4408)),
            other => panic!("{other:?}"),
        }
        assert!(t.elapsed() >= Duration::from_secs(9), "{:?}", t.elapsed());
    }
}

#[tokio::test]
async fn an_open_websocket_keeps_its_place_under_max_connections() {
    let app = apps_with(|c| c.max_connections = 2).await.remove(0);
    let cast = app.cast().await;
    let (addr, _stop) = serve(&app).await;
    let _a = open(addr, &cast.manager).await;
    let _b = open(addr, &cast.manager).await;
    // Both upgraded sockets still count: a third connection is refused.
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), extra.read_to_string(&mut out))
        .await
        .expect("closed at once")
        .unwrap();
    assert!(out.starts_with("HTTP/1.1 503"), "{out}");
}
