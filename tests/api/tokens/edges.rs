//! An API token wherever an access token is accepted: `/graphql` (in `tokens.rs`), the
//! WebSocket in both subprotocols, the CSV export and downloads; READ allows the
//! subscriptions and downloads, refuses mutations on the socket too, and a revoked
//! token stops each edge on its next use.
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::{connect_async, tungstenite::client::IntoClientRequest};

use super::{REVOKE, token};
use crate::{
    builders::new_defect,
    defects::{create, world},
    export::fetch,
    files::{png, upload_request},
    helpers::apps,
    subscriptions::{Got, Ws, next_event, open_with, recv, send, serve},
};

const EVENTS: &str =
    "subscription($d: ID) { defectEvents(defectId: $d) { id kind defectId comment { body } } }";
const COMMENT: &str =
    "mutation($id: ID!, $b: String!) { addComment(defectId: $id, body: $b) { id } }";

#[tokio::test]
async fn a_read_token_subscribes_over_the_websocket_but_cannot_mutate_there() {
    for app in apps().await {
        let w = world(&app).await;
        let (mgr, eng) = (&w.cast.manager, &w.cast.engineer);
        let d = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "stageId": w.stage, "title": "Crack" }),
        )
        .await["id"]
            .clone();
        let (id, secret) = token(&app, eng, "READ").await;
        let (addr, _stop) = serve(&app).await;
        let mut ws = open_with(addr, &secret).await;
        send(
            &mut ws,
            json!({ "id": "s", "type": "subscribe", "payload": { "query": EVENTS, "variables": { "d": d } } }),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.ok(mgr, COMMENT, json!({ "id": d, "b": "first" })).await;
        let got = next_event(&mut ws, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("[{}] no event", app.backend));
        assert_eq!(got["comment"]["body"], "first");

        // A mutation on the same socket: FORBIDDEN, nothing written.
        let before = app.snapshot().await;
        send(
            &mut ws,
            json!({ "id": "m", "type": "subscribe", "payload": { "query": COMMENT, "variables": { "id": d, "b": "from a READ token" } } }),
        )
        .await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Json(v) => {
                assert_eq!(v["id"], "m", "{v}");
                let err = match v["type"].as_str() {
                    Some("error") => v["payload"][0].clone(),
                    _ => v["payload"]["errors"][0].clone(),
                };
                assert_eq!(
                    err["extensions"]["code"], "FORBIDDEN",
                    "[{}] {v}",
                    app.backend
                );
            }
            other => panic!("[{}] no answer: {other:?}", app.backend),
        }
        // Its `complete`, then the snapshot.
        let _ = recv(&mut ws, Duration::from_millis(500)).await;
        assert_eq!(app.snapshot().await, before, "[{}]", app.backend);

        // Revoked: the subscription ends at its next event and the socket closes 4403.
        app.ok(eng, REVOKE, json!({ "id": id })).await;
        app.ok(mgr, COMMENT, json!({ "id": d, "b": "second" }))
            .await;
        let mut closed = None;
        for _ in 0..5 {
            match recv(&mut ws, Duration::from_secs(3)).await {
                Got::Closed(code) => {
                    closed = code;
                    break;
                }
                Got::Json(v) => assert_ne!(v["type"], "next", "[{}] {v}", app.backend),
                Got::Nothing => break,
            }
        }
        assert_eq!(closed, Some(4403), "[{}]", app.backend);
        // A new socket with it is refused.
        let mut again = crate::subscriptions::connect(addr).await;
        send(
            &mut again,
            json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {secret}") } }),
        )
        .await;
        match recv(&mut again, Duration::from_secs(5)).await {
            Got::Closed(code) => assert_eq!(code, Some(4403)),
            other => panic!("[{}] not refused: {other:?}", app.backend),
        }
    }
}

async fn connect_legacy(addr: std::net::SocketAddr) -> Ws {
    let mut req = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "graphql-ws".parse().unwrap());
    connect_async(req).await.unwrap().0
}

#[tokio::test]
async fn a_token_works_in_the_legacy_subprotocol() {
    for app in apps().await {
        let w = world(&app).await;
        let (mgr, eng) = (&w.cast.manager, &w.cast.engineer);
        let d = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "stageId": w.stage, "title": "Crack" }),
        )
        .await["id"]
            .clone();
        let (_, secret) = token(&app, eng, "READ").await;
        let (addr, _stop) = serve(&app).await;
        let mut ws = connect_legacy(addr).await;
        send(
            &mut ws,
            json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {secret}") } }),
        )
        .await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Json(v) => assert_eq!(v, json!({ "type": "connection_ack" })),
            other => panic!("[{}] no ack: {other:?}", app.backend),
        }
        send(
            &mut ws,
            json!({ "id": "1", "type": "start", "payload": { "query": EVENTS, "variables": { "d": d } } }),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.ok(mgr, COMMENT, json!({ "id": d, "b": "legacy" }))
            .await;
        let mut body = Value::Null;
        for _ in 0..5 {
            match recv(&mut ws, Duration::from_secs(5)).await {
                Got::Json(v) if v["type"] == "data" => {
                    body = v["payload"]["data"]["defectEvents"]["comment"]["body"].clone();
                    break;
                }
                Got::Json(_) => continue,
                other => panic!("[{}] no data: {other:?}", app.backend),
            }
        }
        assert_eq!(body, "legacy", "[{}]", app.backend);
    }
}

#[tokio::test]
async fn a_read_token_exports_and_downloads_until_revoked() {
    for app in apps().await {
        let w = world(&app).await;
        let mgr = &w.cast.manager;
        let d = new_defect(&app, mgr, &w.project, "Leak").await;
        let bytes = png(32, 16);
        let up = app
            .request(upload_request(
                Some(&mgr.token),
                d.as_str().unwrap(),
                "leak.png",
                &bytes,
            ))
            .await;
        let attachment = up.body["data"]["uploadAttachment"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("[{}] {}", app.backend, up.body))
            .to_owned();
        let (id, secret) = token(&app, mgr, "READ").await;

        let csv = fetch(&app, Some(&secret), &[]).await;
        assert_eq!(csv.status, StatusCode::OK, "[{}]", app.backend);
        let text = String::from_utf8_lossy(&csv.bytes);
        assert!(text.contains("Leak"), "[{}] {text}", app.backend);

        let path = format!("/api/attachments/{attachment}/file");
        let file = app.get(&path, Some(&secret)).await;
        assert_eq!(file.status, StatusCode::OK, "[{}]", app.backend);
        // Byte for byte (the JSON helper would not parse a PNG: it keeps it as text).
        let got = download(&app, &path, &secret).await;
        assert_eq!(got, bytes);

        app.ok(mgr, REVOKE, json!({ "id": id })).await;
        assert_eq!(
            fetch(&app, Some(&secret), &[]).await.status,
            StatusCode::UNAUTHORIZED
        );
        let refused = app.get(&path, Some(&secret)).await;
        assert_eq!(
            refused.status,
            StatusCode::UNAUTHORIZED,
            "[{}]",
            app.backend
        );
        assert_eq!(refused.body["error"]["code"], "UNAUTHENTICATED");
    }
}

async fn download(app: &crate::helpers::TestApp, path: &str, secret: &str) -> Vec<u8> {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::get(path)
        .header("authorization", format!("Bearer {secret}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.into_body().collect().await.unwrap().to_bytes().to_vec()
}

/// A token of the right shape that is not in the table, or one of the wrong shape, is
/// UNAUTHENTICATED on GraphQL and REST alike.
#[tokio::test]
async fn garbage_and_unknown_tokens_are_unauthenticated() {
    for app in apps().await {
        for bad in [
            "dct_".to_owned(),
            "dct_abc".to_owned(),
            format!("dct_{}", "A".repeat(43)),
            format!("dct_{}", "!".repeat(43)),
        ] {
            assert_eq!(
                app.code(Some(&bad), "{ me { id } }", json!({})).await,
                "UNAUTHENTICATED",
                "[{}] {bad}",
                app.backend
            );
            assert_eq!(
                fetch(&app, Some(&bad), &[]).await.status,
                StatusCode::UNAUTHORIZED
            );
        }
    }
}

/// The inbox over the socket with a READ token: a mention reaches it live.
#[tokio::test]
async fn a_read_token_receives_its_notifications_live() {
    for app in apps().await {
        let w = world(&app).await;
        let (mgr, eng) = (&w.cast.manager, &w.cast.engineer);
        let d = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "stageId": w.stage, "title": "Crack" }),
        )
        .await["id"]
            .clone();
        app.pump().await;
        let (_, secret) = token(&app, eng, "READ").await;
        let (addr, _stop) = serve(&app).await;
        let mut ws = open_with(addr, &secret).await;
        send(
            &mut ws,
            json!({ "id": "n", "type": "subscribe", "payload": { "query": "subscription { notifications { kind defect { id } } }" } }),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mention = format!("@{} please look", eng.username);
        app.ok(mgr, COMMENT, json!({ "id": d, "b": mention })).await;
        app.pump().await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Json(v) if v["type"] == "next" => {
                let n = &v["payload"]["data"]["notifications"];
                assert_eq!(n["kind"], "MENTIONED", "[{}] {v}", app.backend);
                assert_eq!(n["defect"]["id"], d);
            }
            other => panic!("[{}] no notification: {other:?}", app.backend),
        }
    }
}

/// A socket opened with a token that expires is closed with 4403 when it does, as one
/// opened with a JWT is.
#[tokio::test]
async fn a_socket_closes_when_its_token_expires() {
    for app in apps().await {
        let eng = app
            .actor(defect_control::entities::enums::Role::Engineer)
            .await;
        let at = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
        let data = app
            .ok(
                &eng,
                super::CREATE_TOKEN,
                json!({ "n": "short", "s": "READ", "e": at }),
            )
            .await;
        let secret = data["createApiToken"]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let (addr, _stop) = serve(&app).await;
        let mut ws = open_with(addr, &secret).await;
        let mut closed = None;
        for _ in 0..10 {
            match recv(&mut ws, Duration::from_secs(2)).await {
                Got::Closed(code) => {
                    closed = code;
                    break;
                }
                _ => continue,
            }
        }
        assert_eq!(closed, Some(4403), "[{}]", app.backend);
    }
}
