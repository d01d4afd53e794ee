//! `Subscription.notifications` over WebSocket on a real server: live delivery, resume
//! with `after` without gap or duplicate, only one's own (and only while the defect is
//! visible), the shared per-user cap, and on PostgreSQL delivery across two instances.
use std::time::{Duration, Instant};

use defect_control::entities::enums::NotificationKind;
use serde_json::{Value, json};

use super::{notify, site};
use crate::{
    helpers::{Actor, apps, apps_with},
    subscriptions::{Got, Ws, open_with, recv, send, serve},
};

const LIVE: &str =
    "subscription($a: String) { notifications(after: $a) { id cursor kind text defect { id } } }";
const QUIET: Duration = Duration::from_millis(1800);

async fn open(addr: std::net::SocketAddr, who: &Actor) -> Ws {
    open_with(addr, &who.token).await
}

/// Starts the subscription and gives the server time to take its starting point.
async fn start(ws: &mut Ws, id: &str, after: Option<&Value>) {
    send(
        ws,
        json!({ "id": id, "type": "subscribe", "payload": { "query": LIVE, "variables": { "a": after } } }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// The next delivered notification, or `None` when nothing arrives within `wait`.
async fn next(ws: &mut Ws, wait: Duration) -> Option<Value> {
    match recv(ws, wait).await {
        Got::Json(v) if v["type"] == "next" => {
            assert!(v["payload"].get("errors").is_none(), "{v}");
            Some(v["payload"]["data"]["notifications"].clone())
        }
        Got::Nothing => None,
        other => panic!("expected a notification or nothing: {other:?}"),
    }
}

/// The ids delivered until `QUIET` passes without one.
async fn drain(ws: &mut Ws) -> Vec<i32> {
    let mut got = Vec::new();
    while let Some(n) = next(ws, QUIET).await {
        got.push(n["id"].as_str().unwrap().parse().unwrap());
    }
    got
}

#[tokio::test]
async fn new_notifications_arrive_live_only_to_their_user_and_only_about_visible_defects() {
    use NotificationKind::{Assigned, Commented};
    for app in apps().await {
        let s = site(&app).await;
        let (eng, mgr) = (&s.cast.engineer, &s.cast.manager);
        let [a, _] = &s.defects;
        let earlier = notify(&app, &[eng], a, Assigned).await[0].id;
        let (addr, _stop) = serve(&app).await;
        let mut e = open(addr, eng).await;
        let mut m = open(addr, mgr).await;
        start(&mut e, "e", None).await;
        start(&mut m, "m", None).await;

        // One for each, in one transaction, then one for the engineer: no replay of the
        // earlier one (no `after`), each gets its own.
        let both = notify(&app, &[eng, mgr], a, Commented).await;
        app.pump().await;
        let first = next(&mut e, Duration::from_secs(3))
            .await
            .expect("delivered");
        assert_eq!(first["id"], both[0].id.to_string(), "[{}]", app.backend);
        assert_eq!(first["kind"], "COMMENTED");
        assert_eq!(first["defect"]["id"], a.id.to_string());
        assert!(
            first["text"].as_str().unwrap().contains("СК1-001"),
            "{first}"
        );
        let third = notify(&app, &[eng], a, Assigned).await[0].id;
        assert_eq!(drain(&mut e).await, [third], "[{}]", app.backend);
        assert_eq!(drain(&mut m).await, [both[1].id], "[{}]", app.backend);
        assert!(earlier < both[0].id);

        // Removed from the project: a notification about its defect is not delivered;
        // back in it, the next one is.
        app.ok(
            &s.cast.admin,
            "mutation($p: ID!, $u: ID!) { removeProjectMember(projectId: $p, userId: $u) { id } }",
            json!({ "p": s.project.to_string(), "u": eng.gid() }),
        )
        .await;
        notify(&app, &[eng], a, Commented).await;
        assert_eq!(drain(&mut e).await, Vec::<i32>::new(), "[{}]", app.backend);
        app.add_member(s.project, eng.id).await;
        let back = notify(&app, &[eng], a, Commented).await[0].id;
        assert_eq!(drain(&mut e).await, [back], "[{}]", app.backend);

        // Watching and unwatching are no events: the engine runs and nothing arrives
        // (NOTIFY.md, "Watchers").
        for m in ["watchDefect", "unwatchDefect", "watchDefect"] {
            app.ok(
                eng,
                &format!("mutation($id: ID!) {{ {m}(id: $id) {{ id }} }}"),
                json!({ "id": a.id.to_string() }),
            )
            .await;
            app.pump().await;
        }
        assert_eq!(drain(&mut e).await, Vec::<i32>::new(), "[{}]", app.backend);

        // The defect deleted: a notification about it is not delivered (the reader's
        // rights see it deleted); restored, the next one is.
        app.ok(
            mgr,
            "mutation($id: ID!) { deleteDefect(id: $id) }",
            json!({ "id": a.id.to_string() }),
        )
        .await;
        notify(&app, &[eng], a, Commented).await;
        assert_eq!(drain(&mut e).await, Vec::<i32>::new(), "[{}]", app.backend);
        app.ok(
            mgr,
            "mutation($id: ID!) { restoreDefect(id: $id) { id } }",
            json!({ "id": a.id.to_string() }),
        )
        .await;
        let restored = notify(&app, &[eng], a, Commented).await[0].id;
        assert_eq!(drain(&mut e).await, [restored], "[{}]", app.backend);
    }
}

#[tokio::test]
async fn after_resumes_right_after_its_notification_without_gap_or_duplicate() {
    use NotificationKind::{Commented, StatusChanged};
    for app in apps().await {
        let s = site(&app).await;
        let (eng, mgr) = (&s.cast.engineer, &s.cast.manager);
        let [a, b] = &s.defects;
        let mut made = Vec::new();
        for d in [a, b, a, b] {
            made.push(notify(&app, &[eng], d, Commented).await[0].clone());
            notify(&app, &[mgr], d, Commented).await;
        }
        // The cursor of the list's oldest row: everything after it, oldest first.
        let page = app
            .ok(
                eng,
                "{ notifications(first: 100) { edges { cursor node { id } } } }",
                json!({}),
            )
            .await["notifications"]["edges"]
            .clone();
        let oldest = page.as_array().unwrap().last().unwrap().clone();
        assert_eq!(oldest["node"]["id"], made[0].id.to_string());
        let (addr, _stop) = serve(&app).await;
        let mut ws = open(addr, eng).await;
        start(&mut ws, "r", Some(&oldest["cursor"])).await;
        // Written while the replay runs and after it: each once, in order.
        let during = notify(&app, &[eng], b, StatusChanged).await[0].id;
        let mut got = drain(&mut ws).await;
        let after = notify(&app, &[eng], a, StatusChanged).await[0].id;
        got.extend(drain(&mut ws).await);
        let want: Vec<i32> = made[1..]
            .iter()
            .map(|n| n.id)
            .chain([during, after])
            .collect();
        assert_eq!(got, want, "[{}]", app.backend);

        // A delivered notification's cursor resumes after it, on a new socket.
        let mut again = open(addr, eng).await;
        let cursor = json!(
            app.ok(
                eng,
                "{ notifications(first: 2) { nodes { cursor } } }",
                json!({})
            )
            .await["notifications"]["nodes"][1]["cursor"]
        );
        start(&mut again, "r2", Some(&cursor)).await;
        assert_eq!(drain(&mut again).await, [after], "[{}]", app.backend);

        // The seam between a subscription's own reads and the channel: rows the
        // process's reader has not read yet (on SQLite it wakes on engine passes and its
        // 1 s poll only) are read by the catch-up and then arrive in the channel's next
        // batch too; each is delivered once, in order.
        let from = json!(
            app.ok(
                eng,
                "{ notifications(first: 1) { nodes { cursor } } }",
                json!({})
            )
            .await["notifications"]["nodes"][0]["cursor"]
        );
        let mut burst = Vec::new();
        for i in 0..6 {
            let d = if i % 2 == 0 { a } else { b };
            burst.push(notify(&app, &[eng], d, Commented).await[0].id);
        }
        let mut racing = open(addr, eng).await;
        send(
            &mut racing,
            json!({ "id": "s", "type": "subscribe", "payload": { "query": LIVE, "variables": { "a": from } } }),
        )
        .await;
        let more = notify(&app, &[eng], a, Commented).await[0].id;
        burst.push(more);
        assert_eq!(drain(&mut racing).await, burst, "[{}]", app.backend);

        // A cursor of another list is refused.
        let mut bad = open(addr, eng).await;
        let defects = app
            .ok(
                eng,
                "{ defects(first: 1) { pageInfo { endCursor } } }",
                json!({}),
            )
            .await["defects"]["pageInfo"]["endCursor"]
            .clone();
        start(&mut bad, "x", Some(&defects)).await;
        assert_eq!(
            refusal(&mut bad).await,
            "BAD_USER_INPUT",
            "[{}]",
            app.backend
        );
    }
}

/// The code of the error that ends an operation.
async fn refusal(ws: &mut Ws) -> String {
    match recv(ws, Duration::from_secs(5)).await {
        Got::Json(v) if v["type"] == "error" => v["payload"][0]["extensions"]["code"]
            .as_str()
            .unwrap()
            .to_owned(),
        Got::Json(v) if v["type"] == "next" => v["payload"]["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap()
            .to_owned(),
        other => panic!("expected a refusal: {other:?}"),
    }
}

#[tokio::test]
async fn inbox_subscriptions_count_under_the_same_per_user_cap_as_defect_events() {
    for app in apps_with(|c| c.max_subscriptions_per_user = 2).await {
        let s = site(&app).await;
        let eng = &s.cast.engineer;
        let (addr, _stop) = serve(&app).await;
        let mut ws = open(addr, eng).await;
        start(&mut ws, "n1", None).await;
        send(
            &mut ws,
            json!({ "id": "d1", "type": "subscribe", "payload": { "query": "subscription { defectEvents { id } }" } }),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        start(&mut ws, "n2", None).await;
        assert_eq!(refusal(&mut ws).await, "RATE_LIMITED", "[{}]", app.backend);
        // Completing one gives its place back.
        send(&mut ws, json!({ "id": "n1", "type": "complete" })).await;
        match recv(&mut ws, Duration::from_secs(2)).await {
            Got::Json(v) if v["type"] == "complete" => assert_eq!(v["id"], "n1"),
            Got::Nothing => {}
            other => panic!("{other:?}"),
        }
        start(&mut ws, "n3", None).await;
        let n = notify(&app, &[eng], &s.defects[0], NotificationKind::Commented).await[0].id;
        let got = next(&mut ws, Duration::from_secs(3))
            .await
            .expect("delivered");
        assert_eq!(got["id"], n.to_string(), "[{}]", app.backend);
    }
}

/// Two instances on one PostgreSQL database: a subscriber on B gets a notification
/// written through A within a second (B's reader is woken by the `NOTIFY`).
#[tokio::test]
async fn a_notification_written_through_one_instance_reaches_a_subscriber_on_another() {
    for app in apps().await {
        if app.backend != "postgres" {
            continue;
        }
        let other = app.twin().await;
        let s = site(&app).await;
        let eng = &s.cast.engineer;
        let (addr, _stop) = serve(&other).await;
        let mut ws = open(addr, eng).await;
        start(&mut ws, "b", None).await;
        // B's reader has taken its starting point and waits; give its poll a moment to
        // pass so the delivery below is the NOTIFY's, not the poll's.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let at = Instant::now();
        let n = notify(&app, &[eng], &s.defects[0], NotificationKind::Assigned).await[0].id;
        let got = next(&mut ws, Duration::from_secs(1))
            .await
            .expect("within a second");
        assert_eq!(got["id"], n.to_string());
        assert!(at.elapsed() < Duration::from_secs(1), "{:?}", at.elapsed());
    }
}
