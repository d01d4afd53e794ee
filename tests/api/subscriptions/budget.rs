//! What one subscriber may hold (budget): a subscription's selection is bounded per event
//! (`MAX_SUBSCRIPTION_COMPLEXITY`, far below a query's), and one user runs at most
//! `MAX_SUBSCRIPTIONS_PER_USER` subscriptions over all its sockets.
use std::time::Duration;

use defect_control::graphql::MAX_SUBSCRIPTION_COMPLEXITY;
use serde_json::{Value, json};
use tokio_tungstenite::{connect_async, tungstenite::client::IntoClientRequest};

use super::{Got, Ws, joined, open, recv, refused, send, serve, subscribe_message};
use crate::{
    defects::{create, world},
    helpers::{apps, apps_with},
};

/// A page of the journal below every event: cheap for one query, too dear per event.
const PAGE_PER_EVENT: &str = r"
    subscription {
      defectEvents {
        id
        defect {
          activity(first: 100) { nodes { id kind actor { id username } } }
        }
      }
    }
";

/// A defect screen's selection (issue 19's): within the budget.
const SCREEN: &str = r"
    subscription {
      defectEvents {
        id
        kind
        comment { body }
        defect {
          id
          title
          project { id title members { id username email } stages { id title } }
          comments { id body author { id username } }
          attachments { id filename }
          history { id toStatus changedBy { id } }
        }
      }
    }
";

const PAGE_IN_A_QUERY: &str = r"
    query($id: ID!) {
      defect(id: $id) {
        activity(first: 100) { nodes { id kind actor { id username } } }
      }
    }
";

/// A socket past `connection_ack` whose upgrade asked for `lang`.
async fn open_in(addr: std::net::SocketAddr, token: &str, lang: &str) -> Ws {
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
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }),
    )
    .await;
    match recv(&mut ws, Duration::from_secs(5)).await {
        Got::Json(v) => assert_eq!(v["type"], "connection_ack", "{v}"),
        other => panic!("no ack: {other:?}"),
    }
    ws
}

/// The client's `complete` for `id`, and the server's answer.
async fn complete(ws: &mut Ws, id: &str) {
    send(ws, json!({ "id": id, "type": "complete" })).await;
    match recv(ws, Duration::from_secs(5)).await {
        Got::Json(v) => assert_eq!(
            (&v["type"], &v["id"]),
            (&json!("complete"), &json!(id)),
            "{v}"
        ),
        other => panic!("{other:?}"),
    }
}

fn start(id: &str, query: &str) -> Value {
    json!({ "id": id, "type": "subscribe", "payload": { "query": query } })
}

/// The `error` for `id`; returns its first error.
async fn error_for(ws: &mut Ws, id: &str) -> Value {
    match recv(ws, Duration::from_secs(5)).await {
        Got::Json(v) if v["type"] == "error" && v["id"] == id => v["payload"][0].clone(),
        other => panic!("{id}: {other:?}"),
    }
}

/// A subscription whose selection costs more than MAX_SUBSCRIPTION_COMPLEXITY per event
/// is refused before it runs (GRAPHQL_VALIDATION_FAILED, in the socket's language, no
/// place on the channel); the same selection in a query is fine, and a defect screen's
/// subscription runs.
#[tokio::test]
async fn a_subscription_selecting_more_than_its_budget_per_event_is_refused() {
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
        send(&mut ws, start("dear", PAGE_PER_EVENT)).await;
        let e = error_for(&mut ws, "dear").await;
        assert_eq!(e["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{e}");
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("at most {MAX_SUBSCRIPTION_COMPLEXITY} per event")),
            "{e}"
        );
        let mut ru = open_in(addr, &mgr.token, "ru").await;
        send(&mut ru, start("dear", PAGE_PER_EVENT)).await;
        let e = error_for(&mut ru, "dear").await;
        assert_eq!(e["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{e}");
        assert!(e["message"].as_str().unwrap().contains("за событие"), "{e}");
        joined(&app, 0).await;

        let page = app.ok(mgr, PAGE_IN_A_QUERY, json!({ "id": d["id"] })).await;
        assert!(page["defect"]["activity"]["nodes"].is_array(), "{page}");

        send(&mut ws, start("screen", SCREEN)).await;
        joined(&app, 1).await;
        assert!(matches!(
            recv(&mut ws, Duration::from_millis(300)).await,
            Got::Nothing
        ));
    }
}

/// One user runs at most MAX_SUBSCRIPTIONS_PER_USER subscriptions in the process, over
/// all its sockets: one more gets an `error` with RATE_LIMITED for its id (the socket
/// and the other subscriptions go on), another user is not affected, and every end of a
/// subscription gives its place back: the client's `complete`, an error after joining,
/// a closed socket.
#[tokio::test]
async fn a_user_runs_at_most_max_subscriptions_per_user_over_all_its_sockets() {
    for app in apps_with(|c| c.max_subscriptions_per_user = 3).await {
        let w = world(&app).await;
        let (mgr, admin) = (&w.cast.manager, &w.cast.admin);
        let (addr, _stop) = serve(&app).await;
        let p = json!({ "p": w.project });
        let mut a = open(addr, mgr).await;
        let mut b = open(addr, mgr).await;
        for id in ["a1", "a2"] {
            send(&mut a, subscribe_message("subscribe", id, p.clone())).await;
        }
        send(&mut b, subscribe_message("subscribe", "b1", p.clone())).await;
        joined(&app, 3).await;
        send(&mut b, subscribe_message("subscribe", "b2", p.clone())).await;
        let e = error_for(&mut b, "b2").await;
        assert_eq!(e["extensions"]["code"], "RATE_LIMITED", "{e}");
        assert!(
            e["message"].as_str().unwrap().contains("3 subscriptions"),
            "{e}"
        );
        // Another user has places of its own.
        let mut other = open(addr, admin).await;
        send(&mut other, subscribe_message("subscribe", "x", p.clone())).await;
        joined(&app, 4).await;

        // The client's `complete` gives a place back...
        complete(&mut a, "a1").await;
        joined(&app, 3).await;
        send(&mut b, subscribe_message("subscribe", "b2", p.clone())).await;
        joined(&app, 4).await;
        send(&mut b, subscribe_message("subscribe", "b3", p.clone())).await;
        refused(&mut b, "b3", "RATE_LIMITED").await;
        // ...so does a subscription that fails after it joined (a bad cursor)...
        complete(&mut a, "a2").await;
        joined(&app, 3).await;
        send(
            &mut a,
            subscribe_message("subscribe", "bad", json!({ "a": "not a cursor" })),
        )
        .await;
        refused(&mut a, "bad", "BAD_USER_INPUT").await;
        send(&mut a, subscribe_message("subscribe", "a3", p.clone())).await;
        joined(&app, 4).await;
        // ...and a closed socket gives back all of its own.
        drop(b);
        joined(&app, 2).await;
        for id in ["a4", "a5"] {
            send(&mut a, subscribe_message("subscribe", id, p.clone())).await;
        }
        joined(&app, 4).await;
        send(&mut a, subscribe_message("subscribe", "a6", p.clone())).await;
        refused(&mut a, "a6", "RATE_LIMITED").await;
    }
}
