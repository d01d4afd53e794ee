//! The legacy subprotocol `graphql-ws` (subscriptions-transport-ws, Apollo's older
//! client) end to end: `connection_init` with the token, `start`, events as `data`,
//! `stop` answered with `complete` and nothing after it; a refused token closes with
//! 4403 as in graphql-transport-ws (EVENTS.md: "before any subscription runs").
use std::time::Duration;

use serde_json::{Value, json};
use tokio_tungstenite::{connect_async, tungstenite::client::IntoClientRequest};

use super::{Got, SUBSCRIBE, Ws, comment_over_http, recv, send, serve};
use crate::{
    defects::{create, world},
    helpers::apps,
};

async fn connect_legacy(addr: std::net::SocketAddr) -> Ws {
    let mut req = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "graphql-ws".parse().unwrap());
    let (ws, res) = connect_async(req).await.unwrap();
    assert_eq!(res.headers()["sec-websocket-protocol"], "graphql-ws");
    ws
}

/// The next `data` message of operation `id`, or `None` when nothing comes in `wait`.
async fn data(ws: &mut Ws, id: &str, wait: Duration) -> Option<Value> {
    match recv(ws, wait).await {
        Got::Json(v) if v["type"] == "data" => {
            assert_eq!(v["id"], id, "{v}");
            assert!(v["payload"].get("errors").is_none(), "{v}");
            Some(v["payload"]["data"]["defectEvents"].clone())
        }
        Got::Nothing => None,
        other => panic!("expected data or nothing: {other:?}"),
    }
}

#[tokio::test]
async fn the_legacy_protocol_starts_delivers_and_stops() {
    for app in apps().await {
        let w = world(&app).await;
        let (mgr, eng) = (&w.cast.manager, &w.cast.engineer);
        let d = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "stageId": w.stage, "title": "Crack" }),
        )
        .await;
        let (addr, _stop) = serve(&app).await;
        let mut ws = connect_legacy(addr).await;
        send(
            &mut ws,
            json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", eng.token) } }),
        )
        .await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Json(v) => assert_eq!(v, json!({ "type": "connection_ack" })),
            other => panic!("no ack: {other:?}"),
        }
        send(
            &mut ws,
            json!({ "id": "a", "type": "start", "payload": { "query": SUBSCRIBE, "variables": { "p": w.project } } }),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        comment_over_http(addr, mgr, &d["id"], "over the old protocol").await;
        let e = data(&mut ws, "a", Duration::from_secs(1))
            .await
            .expect("the event within 1 s");
        assert_eq!(e["kind"], "COMMENTED");
        assert_eq!(e["defectId"], d["id"]);
        assert_eq!(e["comment"]["body"], "over the old protocol");
        assert!(
            data(&mut ws, "a", Duration::from_millis(300))
                .await
                .is_none()
        );

        // A query runs too, and answers as `data` then `complete`.
        send(
            &mut ws,
            json!({ "id": "q", "type": "start", "payload": { "query": "{ me { username } }" } }),
        )
        .await;
        for kind in ["data", "complete"] {
            match recv(&mut ws, Duration::from_secs(5)).await {
                Got::Json(v) => {
                    assert_eq!((&v["type"], &v["id"]), (&json!(kind), &json!("q")), "{v}");
                    if kind == "data" {
                        assert_eq!(
                            v["payload"]["data"]["me"]["username"],
                            eng.username.as_str()
                        );
                    }
                }
                other => panic!("{other:?}"),
            }
        }

        // `stop` ends it: `complete`, then nothing more of it.
        send(&mut ws, json!({ "id": "a", "type": "stop" })).await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Json(v) => assert_eq!(v, json!({ "id": "a", "type": "complete" })),
            other => panic!("{other:?}"),
        }
        comment_over_http(addr, mgr, &d["id"], "after stop").await;
        assert!(matches!(
            recv(&mut ws, Duration::from_millis(1500)).await,
            Got::Nothing
        ));
        assert_eq!(app.state.live.joined(), 0, "[{}]", app.backend);

        // A bad token is refused before anything runs.
        let mut refused = connect_legacy(addr).await;
        send(
            &mut refused,
            json!({ "type": "connection_init", "payload": { "authorization": "Bearer not-a-token" } }),
        )
        .await;
        let mut got = Vec::new();
        loop {
            match recv(&mut refused, Duration::from_secs(5)).await {
                Got::Json(v) => got.push(v),
                Got::Closed(code) => {
                    assert_eq!(code, Some(4403), "[{}] after {got:?}", app.backend);
                    break;
                }
                Got::Nothing => panic!("[{}] still open after {got:?}", app.backend),
            }
        }
        assert!(
            got.iter().all(|v| v["type"] == "connection_error"),
            "{got:?}"
        );
    }
}
