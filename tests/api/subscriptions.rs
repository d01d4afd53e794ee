//! Live updates over `GET /graphql/ws` (graphql-transport-ws) on a real server: auth in
//! `connection_init`, delivery after an HTTP commit, visibility re-checked at delivery,
//! and resume with `after` without gap or duplicate.
mod access;
mod amplification;
mod budget;
mod legacy;
mod limits;
mod resume;
mod soft_delete;

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use defect_control::http::ws::MAX_OPERATIONS;
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

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const SUBSCRIBE: &str = "subscription($p: ID, $d: ID, $a: String) { defectEvents(projectId: $p, defectId: $d, after: $a) { id kind cursor defectId comment { body } } }";
const COMMENT: &str =
    "mutation($id: ID!, $b: String!) { addComment(defectId: $id, body: $b) { id } }";

/// What the server sent: a protocol message, or the close code.
#[derive(Debug)]
pub enum Got {
    Json(Value),
    Closed(Option<u16>),
    Nothing,
}

pub async fn serve(app: &TestApp) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
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

pub async fn connect(addr: SocketAddr) -> Ws {
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

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next protocol message within `wait` (pings answered and skipped).
pub async fn recv(ws: &mut Ws, wait: Duration) -> Got {
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
    open_with(addr, &actor.token).await
}

/// A socket past `connection_ack`, authenticated with `token`.
pub async fn open_with(addr: SocketAddr, token: &str) -> Ws {
    let mut ws = connect(addr).await;
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }),
    )
    .await;
    match recv(&mut ws, Duration::from_secs(5)).await {
        Got::Json(v) => assert_eq!(v["type"], "connection_ack", "{v}"),
        other => panic!("no ack: {other:?}"),
    }
    ws
}

pub async fn subscribe(ws: &mut Ws, id: &str, vars: Value) {
    send(
        ws,
        json!({ "id": id, "type": "subscribe", "payload": { "query": SUBSCRIBE, "variables": vars } }),
    )
    .await;
    // No acknowledgement exists for `subscribe`: give the server time to take the
    // starting point before the test writes events.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Starts operation `id` with any document and waits, like [`subscribe`], for the
/// server to take its starting point.
async fn listen(ws: &mut Ws, id: &str, query: &str, vars: Value) {
    send(
        ws,
        json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": vars } }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Every event delivered until `quiet` passes without one.
async fn drain(ws: &mut Ws, quiet: Duration) -> Vec<Value> {
    let mut got = Vec::new();
    while let Some(e) = next_event(ws, quiet).await {
        got.push(e);
    }
    got
}

/// The next delivered event, or `None` when nothing arrives within `wait`.
pub async fn next_event(ws: &mut Ws, wait: Duration) -> Option<Value> {
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

/// Errors on a socket come in the language of the upgrade request's `Accept-Language`,
/// as over HTTP, with the same code.
#[tokio::test]
async fn errors_on_a_socket_follow_the_upgrade_requests_language() {
    for app in apps().await {
        let (addr, _stop) = serve(&app).await;
        let mgr = app
            .actor(defect_control::entities::enums::Role::Manager)
            .await;
        let mut answers = Vec::new();
        for lang in ["ru", "en"] {
            let mut req = format!("ws://{addr}/graphql/ws")
                .into_client_request()
                .unwrap();
            req.headers_mut().insert(
                "sec-websocket-protocol",
                "graphql-transport-ws".parse().unwrap(),
            );
            req.headers_mut()
                .insert("accept-language", lang.parse().unwrap());
            let (mut ws, _) = connect_async(req).await.unwrap();
            send(
                &mut ws,
                json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", mgr.token) } }),
            )
            .await;
            match recv(&mut ws, Duration::from_secs(5)).await {
                Got::Json(v) => assert_eq!(v["type"], "connection_ack", "{v}"),
                other => panic!("no ack: {other:?}"),
            }
            send(
                &mut ws,
                json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ defectByKey(key: \"nope\") { id } }" } }),
            )
            .await;
            match recv(&mut ws, Duration::from_secs(5)).await {
                // `next` with errors, or `error` (its payload is the list of errors).
                Got::Json(v) => answers.push(match v["type"].as_str() {
                    Some("error") => v["payload"][0].clone(),
                    _ => v["payload"]["errors"][0].clone(),
                }),
                other => panic!("[{}] no answer: {other:?}", app.backend),
            }
        }
        let (ru, en) = (&answers[0], &answers[1]);
        assert_eq!(
            ru["extensions"]["code"], "BAD_USER_INPUT",
            "[{}] {ru}",
            app.backend
        );
        assert_eq!(
            en["extensions"]["code"], "BAD_USER_INPUT",
            "[{}] {en}",
            app.backend
        );
        let ru_text = ru["message"].as_str().unwrap_or_default();
        let en_text = en["message"].as_str().unwrap_or_default();
        assert!(
            en_text.contains("expected a defect key"),
            "[{}] {en}",
            app.backend
        );
        assert!(
            ru_text.chars().any(|c| ('а'..='я').contains(&c)) && ru_text != en_text,
            "[{}] {ru}",
            app.backend
        );
    }
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
        // The socket closes with 4403 instead of delivering "three".
        match recv(&mut ws, Duration::from_millis(1500)).await {
            Got::Closed(code) => assert_eq!(code, Some(4403), "[{}]", app.backend),
            other => panic!("[{}] {other:?}", app.backend),
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
    let app = apps_with(|c| {
        c.max_connections = 2;
        c.ws_reserved_connections = 0;
    })
    .await
    .remove(0);
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

/// The newest event's cursor, to subscribe from a known point without waiting for the
/// subscription to start (`after` replays whatever came later).
async fn newest_cursor(app: &TestApp, actor: &Actor) -> Value {
    app.ok(
        actor,
        "{ activity(first: 1) { nodes { cursor } } }",
        json!({}),
    )
    .await["activity"]["nodes"][0]["cursor"]
        .clone()
}

/// PostgreSQL hands out event ids from a sequence when the row is inserted, so without
/// ordering, transaction A could take id n, B id n+1 and commit first: a reader that saw
/// n+1 never returns to n. `journal::record` takes a transaction-scoped lock first, so B
/// waits for A's commit and ids commit in order. Here A is held open by the test, B is a
/// real `addComment` over HTTP; the subscriber must get A's event, then B's. (SQLite
/// writes one transaction at a time, so commits cannot overtake each other there.)
#[tokio::test]
async fn events_whose_transactions_would_commit_out_of_id_order_are_all_delivered_in_order() {
    use defect_control::{
        domain::defects::journal,
        entities::{comments, defects as defect_rows, enums::DefectEventKind},
    };
    use sea_orm::{
        ActiveModelTrait, ConnectionTrait, EntityTrait, Set, Statement, TransactionTrait,
    };
    for app in apps().await {
        if app.backend != "postgres" {
            continue;
        }
        let w = world(&app).await;
        let mgr = w.cast.manager.clone();
        let d = create(
            &app,
            &mgr,
            json!({ "projectId": w.project, "stageId": w.stage, "title": "Crack" }),
        )
        .await;
        let defect_id: i32 = d["id"].as_str().unwrap().parse().unwrap();
        let (addr, _stop) = serve(&app).await;
        let from = newest_cursor(&app, &mgr).await;
        let mut ws = open(addr, &mgr).await;
        subscribe(&mut ws, "1", json!({ "d": d["id"], "a": from })).await;

        // A: a comment and its event, written like `addComment` does, left uncommitted.
        let a = app.db().begin().await.unwrap();
        let defect = defect_rows::Entity::find_by_id(defect_id)
            .one(&a)
            .await
            .unwrap()
            .unwrap();
        let comment = comments::ActiveModel {
            defect_id: Set(defect_id),
            author_id: Set(mgr.id),
            body: Set("A".into()),
            created_at: Set(chrono::Utc::now()),
            ..Default::default()
        }
        .insert(&a)
        .await
        .unwrap();
        let about = journal::About {
            comment_id: Some(comment.id),
            ..Default::default()
        };
        journal::record(&a, mgr.id, &defect, DefectEventKind::Commented, &[], about)
            .await
            .unwrap();

        // B: a real mutation, started while A is open.
        let b = {
            let (mgr, id) = (mgr.clone(), d["id"].clone());
            tokio::spawn(async move { comment_over_http(addr, &mgr, &id, "B").await })
        };
        // B must be waiting for A's journal lock (observed, not assumed from a sleep);
        // without the lock it would commit a higher id before A.
        let waiting =
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted";
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let row = app
                .db()
                .query_one_raw(Statement::from_string(
                    sea_orm::DatabaseBackend::Postgres,
                    waiting,
                ))
                .await
                .unwrap()
                .unwrap();
            if row.try_get::<i64>("", "n").unwrap() > 0 || b.is_finished() {
                break;
            }
            assert!(Instant::now() < deadline, "B neither waited nor finished");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!b.is_finished(), "B committed while A held a lower id");
        a.commit().await.unwrap();
        b.await.unwrap();

        let first = next_event(&mut ws, Duration::from_secs(2))
            .await
            .expect("A");
        let second = next_event(&mut ws, Duration::from_secs(2))
            .await
            .expect("B");
        assert_eq!(first["comment"]["body"], "A", "{first}");
        assert_eq!(second["comment"]["body"], "B", "{second}");
        let id = |e: &Value| e["id"].as_str().unwrap().parse::<i64>().unwrap();
        assert!(id(&first) < id(&second));
        assert!(
            next_event(&mut ws, Duration::from_millis(200))
                .await
                .is_none()
        );
    }
}

/// A subscription run in-process (no socket), for tests that need to hold it still.
fn in_process(
    app: &TestApp,
    actor: &Actor,
    vars: Value,
) -> futures_util::stream::BoxStream<'static, async_graphql::Response> {
    use defect_control::auth::viewer::{Auth, BearerToken};
    let schema = defect_control::graphql::build_schema(Some(app.state.clone()));
    let req = async_graphql::Request::new(
        "subscription($p: ID, $a: String) { defectEvents(projectId: $p, after: $a) { id kind } }",
    )
    .variables(async_graphql::Variables::from_json(vars))
    .data(Auth::Authenticated(actor.viewer()))
    .data(BearerToken(actor.token.clone()));
    schema.execute_stream(req).boxed()
}

/// The id of the next event of an in-process subscription.
async fn next_id(s: &mut futures_util::stream::BoxStream<'static, async_graphql::Response>) -> i64 {
    let r = tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("an event within 5 s")
        .expect("the stream goes on");
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let v = r.data.into_json().unwrap();
    v["defectEvents"]["id"].as_str().unwrap().parse().unwrap()
}

/// Polls a subscription briefly so it joins the process's channel (a stream runs only
/// when polled); nothing is due yet.
async fn start(s: &mut futures_util::stream::BoxStream<'static, async_graphql::Response>) {
    assert!(
        tokio::time::timeout(Duration::from_millis(300), s.next())
            .await
            .is_err(),
        "nothing to deliver yet"
    );
}

const COMMENT_ID: &str =
    "mutation($id: ID!, $b: String!) { addComment(defectId: $id, body: $b) { id } }";

/// A subscriber that stops reading keeps no more than the channel's batches: once it
/// falls further behind it loses its place, then reads what it missed from the journal
/// and rejoins — every event once, in order.
#[tokio::test]
async fn a_subscriber_that_falls_behind_catches_up_from_the_journal_without_gap_or_duplicate() {
    for app in apps().await {
        let w = world(&app).await;
        let mgr = &w.cast.manager;
        let d = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "stageId": w.stage, "title": "Crack" }),
        )
        .await;
        let from = newest_cursor(&app, mgr).await;
        let mut slow = in_process(&app, mgr, json!({ "p": w.project, "a": from }));
        start(&mut slow).await;
        let mut probe = in_process(&app, &w.cast.admin, json!({ "p": w.project, "a": from }));
        start(&mut probe).await;
        // One batch per event: the next write waits until the probe has its event.
        let n = defect_control::live::CAPACITY + 6;
        let mut written = Vec::new();
        for i in 0..n {
            app.ok(
                mgr,
                COMMENT_ID,
                json!({ "id": d["id"], "b": format!("c{i}") }),
            )
            .await;
            written.push(next_id(&mut probe).await);
        }
        let lagged_before = app.state.live.lagged();
        let mut got = Vec::new();
        for _ in 0..n {
            got.push(next_id(&mut slow).await);
        }
        assert_eq!(got, written);
        assert!(
            app.state.live.lagged() > lagged_before,
            "the slow subscriber did fall behind"
        );
        // Back in the channel: the next event comes live.
        app.ok(mgr, COMMENT_ID, json!({ "id": d["id"], "b": "after" }))
            .await;
        let live = next_id(&mut slow).await;
        assert_eq!(live, next_id(&mut probe).await);
        assert!(live > *written.last().unwrap());
    }
}

/// The statements run while one comment is written and delivered to every subscription.
async fn write_and_count(
    app: &TestApp,
    by: &Actor,
    defect: &Value,
    subs: &mut [futures_util::stream::BoxStream<'static, async_graphql::Response>],
) -> usize {
    use std::sync::atomic::Ordering;
    let before = app.statements.load(Ordering::SeqCst);
    app.ok(by, COMMENT_ID, json!({ "id": defect, "b": "x" }))
        .await;
    for s in subs.iter_mut() {
        next_id(s).await;
    }
    app.statements.load(Ordering::SeqCst) - before
}

/// The process reads the journal once per wake-up, not once per subscription: the
/// statements that one write causes are the same with 1 and with 12 subscribers.
#[tokio::test]
async fn one_journal_read_per_wakeup_whatever_the_number_of_subscribers() {
    for app in apps().await {
        let w = world(&app).await;
        let mgr = &w.cast.manager;
        let d = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "stageId": w.stage, "title": "Crack" }),
        )
        .await;
        let from = newest_cursor(&app, mgr).await;
        // An engineer first: its memberships are read from the first batch on.
        let mut subs = vec![in_process(&app, &w.cast.engineer, json!({ "a": from }))];
        start(&mut subs[0]).await;
        let one = write_and_count(&app, mgr, &d["id"], &mut subs).await;
        let cast = [&w.cast.admin, &w.cast.engineer, &w.cast.observer, mgr];
        for i in 0..11 {
            let from = newest_cursor(&app, mgr).await;
            let mut s = in_process(&app, cast[i % cast.len()], json!({ "a": from }));
            start(&mut s).await;
            subs.push(s);
        }
        let twelve = write_and_count(&app, mgr, &d["id"], &mut subs).await;
        println!(
            "{}: statements per write with 1 subscriber {one}, with 12 {twelve}",
            app.backend
        );
        // A poll tick may add one read of the journal.
        assert!(twelve <= one + 1, "1: {one}, 12: {twelve}");
    }
}

/// SIGTERM / Ctrl-C: an open socket gets a close frame with 1001 (going away), and the
/// server waits for it to close before it stops.
#[tokio::test]
async fn shutdown_closes_open_websockets_with_1001() {
    for app in apps().await {
        let w = world(&app).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(defect_control::server::serve(
            listener,
            app.state.clone(),
            async move {
                stopped.await.ok();
            },
            Duration::from_secs(10),
        ));
        let mut ws = open(addr, &w.cast.manager).await;
        subscribe(&mut ws, "1", json!({})).await;
        let t = Instant::now();
        stop.send(()).unwrap();
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Closed(code) => assert_eq!(code, Some(1001)),
            other => panic!("{other:?}"),
        }
        drop(ws);
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the server stops once its sockets are closed")
            .unwrap()
            .unwrap();
        // Well before the 10 s grace: it did not wait for a socket it had closed.
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }
}

fn subscribe_message(kind: &str, id: &str, vars: Value) -> Value {
    json!({ "id": id, "type": kind, "payload": { "query": SUBSCRIBE, "variables": vars } })
}

/// The next message, which must be an `error` for `id` with `code`.
async fn refused(ws: &mut Ws, id: &str, code: &str) {
    match recv(ws, Duration::from_secs(5)).await {
        Got::Json(v) => {
            assert_eq!(v["type"], "error", "{v}");
            assert_eq!(v["id"], id, "{v}");
            assert_eq!(v["payload"][0]["extensions"]["code"], code, "{v}");
        }
        other => panic!("{id}: {other:?}"),
    }
}

/// Waits until `n` subscriptions are on the process's live-updates channel.
async fn joined(app: &TestApp, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.state.live.joined() != n {
        assert!(
            Instant::now() < deadline,
            "[{}] {} subscriptions joined, expected {n}",
            app.backend,
            app.state.live.joined()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One socket runs at most MAX_OPERATIONS operations. A `subscribe` beyond them gets an
/// `error` with RATE_LIMITED for its id and runs nothing (no stream, no place on the
/// live-updates channel); the socket stays usable, and the end of an operation (the
/// client's `complete`, the server's `complete`, an `error`) frees its place.
#[tokio::test]
async fn a_socket_runs_at_most_max_operations_and_refuses_the_rest_with_a_code() {
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
        let p = json!({ "p": w.project });
        for i in 0..MAX_OPERATIONS {
            send(
                &mut ws,
                subscribe_message("subscribe", &format!("s{i}"), p.clone()),
            )
            .await;
        }
        for i in 0..5 {
            send(
                &mut ws,
                subscribe_message("subscribe", &format!("e{i}"), p.clone()),
            )
            .await;
        }
        for i in 0..5 {
            refused(&mut ws, &format!("e{i}"), "RATE_LIMITED").await;
        }
        joined(&app, MAX_OPERATIONS).await;

        // The client's `complete` frees a place (the library answers with `complete`).
        send(&mut ws, json!({ "id": "s0", "type": "complete" })).await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Json(v) => assert_eq!((&v["type"], &v["id"]), (&json!("complete"), &json!("s0"))),
            other => panic!("{other:?}"),
        }
        // A query runs in it; the server's `complete` frees it again.
        send(
            &mut ws,
            json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ me { username } }" } }),
        )
        .await;
        for kind in ["next", "complete"] {
            match recv(&mut ws, Duration::from_secs(5)).await {
                Got::Json(v) => {
                    assert_eq!((&v["type"], &v["id"]), (&json!(kind), &json!("q")), "{v}")
                }
                other => panic!("{other:?}"),
            }
        }
        // So does an operation that ends with an `error`.
        send(
            &mut ws,
            subscribe_message("subscribe", "b", json!({ "a": "not a cursor" })),
        )
        .await;
        refused(&mut ws, "b", "BAD_USER_INPUT").await;
        // One place: a subscription takes it, the next one is refused.
        send(&mut ws, subscribe_message("subscribe", "s0b", p.clone())).await;
        send(&mut ws, subscribe_message("subscribe", "e5", p.clone())).await;
        refused(&mut ws, "e5", "RATE_LIMITED").await;
        joined(&app, MAX_OPERATIONS).await;

        // Every running subscription still gets the event, once; the refused ones nothing.
        comment_over_http(addr, mgr, &d["id"], "Still live").await;
        let mut got = std::collections::BTreeSet::new();
        while got.len() < MAX_OPERATIONS {
            match recv(&mut ws, Duration::from_secs(5)).await {
                Got::Json(v) if v["type"] == "next" => {
                    let e = &v["payload"]["data"]["defectEvents"];
                    assert_eq!(e["comment"]["body"], "Still live", "{v}");
                    let id = v["id"].as_str().unwrap().to_owned();
                    assert!(got.insert(id), "twice: {v}");
                }
                other => panic!("[{}] after {got:?}: {other:?}", app.backend),
            }
        }
        let want: std::collections::BTreeSet<String> = (1..MAX_OPERATIONS)
            .map(|i| format!("s{i}"))
            .chain(["s0b".to_owned()])
            .collect();
        assert_eq!(got, want);
        assert!(matches!(
            recv(&mut ws, Duration::from_millis(300)).await,
            Got::Nothing
        ));

        // An id that runs already closes the socket (graphql-transport-ws: 4409).
        send(&mut ws, subscribe_message("subscribe", "s1", p.clone())).await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Closed(code) => assert_eq!(code, Some(4409)),
            other => panic!("{other:?}"),
        }
        joined(&app, 0).await;
    }
}

/// The legacy subscriptions-transport-ws protocol (`start`/`stop`) has the same cap.
#[tokio::test]
async fn the_legacy_protocol_has_the_same_cap() {
    for app in apps().await {
        let w = world(&app).await;
        let (addr, _stop) = serve(&app).await;
        let mut req = format!("ws://{addr}/graphql/ws")
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("sec-websocket-protocol", "graphql-ws".parse().unwrap());
        let (mut ws, res) = connect_async(req).await.unwrap();
        assert_eq!(res.headers()["sec-websocket-protocol"], "graphql-ws");
        send(
            &mut ws,
            json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", w.cast.manager.token) } }),
        )
        .await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Json(v) => assert_eq!(v["type"], "connection_ack", "{v}"),
            other => panic!("no ack: {other:?}"),
        }
        let p = json!({ "p": w.project });
        for i in 0..=MAX_OPERATIONS {
            send(
                &mut ws,
                subscribe_message("start", &i.to_string(), p.clone()),
            )
            .await;
        }
        refused(&mut ws, &MAX_OPERATIONS.to_string(), "RATE_LIMITED").await;
        joined(&app, MAX_OPERATIONS).await;
        send(&mut ws, json!({ "id": "0", "type": "stop" })).await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Json(v) => assert_eq!((&v["type"], &v["id"]), (&json!("complete"), &json!("0"))),
            other => panic!("{other:?}"),
        }
        send(&mut ws, subscribe_message("start", "again", p.clone())).await;
        send(&mut ws, subscribe_message("start", "more", p.clone())).await;
        refused(&mut ws, "more", "RATE_LIMITED").await;
        joined(&app, MAX_OPERATIONS).await;
    }
}
