//! What a subscription delivers, checked against the journal's rows: `kinds` narrows
//! both the live events and the replay after `after`, and `after` accepts the cursors of
//! `activity` and `Defect.activity` (EVENTS.md: "a cursor of `activity` or of an earlier
//! event's `cursor`"), resuming exactly after that event; a cursor of another list is
//! refused.
use std::time::Duration;

use defect_control::entities::{defect_events, enums::DefectEventKind};
use sea_orm::{ColumnTrait, EntityTrait, Iterable, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use super::{Got, drain, listen, newest_cursor, open, recv, send, serve};
use crate::{
    defects::{create, world},
    helpers::{Actor, TestApp, apps},
};

const EVENTS: &str = r"
    subscription($p: ID, $d: ID, $k: [DefectEventKind!], $a: String) {
      defectEvents(projectId: $p, defectId: $d, kinds: $k, after: $a) {
        id kind cursor defectId
      }
    }
";
const UPDATE: &str = r"
    mutation($id: ID!, $i: UpdateDefectInput!) {
      updateDefect(id: $id, input: $i) { version }
    }
";
const ASSIGN: &str = r"
    mutation($id: ID!, $p: ID) {
      assignDefect(id: $id, performerId: $p) { version }
    }
";
const MOVE: &str = r"
    mutation($id: ID!, $s: DefectStatus!) {
      changeDefectStatus(id: $id, status: $s) { version }
    }
";
const COMMENT: &str = r"
    mutation($id: ID!, $b: String!) {
      addComment(defectId: $id, body: $b) { id }
    }
";
const QUIET: Duration = Duration::from_millis(1500);

/// `(id, kind)` of delivered events.
fn seen(events: &[Value]) -> Vec<(i32, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().parse().unwrap(),
                e["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `(id, kind)` of the journal's events after `after`, of `kinds`, oldest first.
async fn journal(app: &TestApp, after: i32, kinds: &[DefectEventKind]) -> Vec<(i32, String)> {
    defect_events::Entity::find()
        .filter(defect_events::Column::Id.gt(after))
        .filter(defect_events::Column::Kind.is_in(kinds.iter().copied()))
        .order_by_asc(defect_events::Column::Id)
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.id, json!(e.kind).as_str().unwrap().to_owned()))
        .collect()
}

/// The id an event cursor stands for, read from the journal (the newest event).
async fn newest_id(app: &TestApp) -> i32 {
    defect_events::Entity::find()
        .order_by_desc(defect_events::Column::Id)
        .one(app.db())
        .await
        .unwrap()
        .map_or(0, |e| e.id)
}

/// One event of every kind a live defect can get without files: UPDATED, ASSIGNED,
/// COMMENTED, STATUS_CHANGED, UPDATED.
async fn one_of_each(app: &TestApp, mgr: &Actor, eng: &Actor, d: &Value) {
    app.ok(
        mgr,
        UPDATE,
        json!({ "id": d, "i": { "title": "Wider crack" } }),
    )
    .await;
    app.ok(mgr, ASSIGN, json!({ "id": d, "p": eng.gid() }))
        .await;
    app.ok(mgr, COMMENT, json!({ "id": d, "b": "Seen" })).await;
    app.ok(mgr, MOVE, json!({ "id": d, "s": "IN_PROGRESS" }))
        .await;
    app.ok(mgr, UPDATE, json!({ "id": d, "i": { "priority": "HIGH" } }))
        .await;
}

#[tokio::test]
async fn kinds_narrows_live_delivery_and_the_replay_after_a_cursor() {
    use DefectEventKind::{Assigned, Commented, StatusChanged, Updated};
    for app in apps().await {
        let w = world(&app).await;
        let (mgr, eng) = (&w.cast.manager, &w.cast.engineer);
        let d = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "stageId": w.stage, "title": "Crack" }),
        )
        .await;
        let from = newest_cursor(&app, mgr).await;
        let from_id = newest_id(&app).await;
        let (addr, _stop) = serve(&app).await;

        // Live: two kinds of five.
        let mut live = open(addr, mgr).await;
        listen(
            &mut live,
            "k",
            EVENTS,
            json!({ "p": w.project, "k": ["COMMENTED", "STATUS_CHANGED"] }),
        )
        .await;
        one_of_each(&app, mgr, eng, &d["id"]).await;
        let got = seen(&drain(&mut live, QUIET).await);
        assert_eq!(
            got,
            journal(&app, from_id, &[Commented, StatusChanged]).await,
            "[{}]",
            app.backend
        );
        let kinds: Vec<&str> = got.iter().map(|(_, k)| k.as_str()).collect();
        assert_eq!(kinds, ["COMMENTED", "STATUS_CHANGED"], "[{}]", app.backend);

        // Replay: from the CREATED event, other kinds; then live, still narrowed.
        let mut again = open(addr, mgr).await;
        listen(
            &mut again,
            "r",
            EVENTS,
            json!({ "d": d["id"], "k": ["UPDATED", "ASSIGNED"], "a": from }),
        )
        .await;
        let replayed = seen(&drain(&mut again, QUIET).await);
        assert_eq!(replayed, journal(&app, from_id, &[Updated, Assigned]).await);
        let kinds: Vec<&str> = replayed.iter().map(|(_, k)| k.as_str()).collect();
        assert_eq!(
            kinds,
            ["UPDATED", "ASSIGNED", "UPDATED"],
            "[{}]",
            app.backend
        );
        let seam = newest_id(&app).await;
        app.ok(mgr, COMMENT, json!({ "id": d["id"], "b": "Not asked for" }))
            .await;
        // A second member engineer takes over (an open defect in progress keeps one).
        let other = &w.cast.outsider;
        app.add_member(w.project.parse().unwrap(), other.id).await;
        app.ok(mgr, ASSIGN, json!({ "id": d["id"], "p": other.gid() }))
            .await;
        let after_seam = seen(&drain(&mut again, QUIET).await);
        assert_eq!(after_seam, journal(&app, seam, &[Assigned]).await);
        assert_eq!(after_seam.len(), 1, "[{}] {after_seam:?}", app.backend);
        // The first socket takes the comment, not the assignment.
        let first = seen(&drain(&mut live, Duration::from_millis(300)).await);
        assert_eq!(first, journal(&app, seam, &[Commented]).await);
        assert_eq!(first.len(), 1, "[{}] {first:?}", app.backend);
    }
}

const DEFECT_ACTIVITY: &str = r"
    query($id: ID!, $first: Int) {
      defect(id: $id) {
        activity(first: $first) {
          edges { cursor node { id cursor } }
          pageInfo { endCursor }
        }
      }
    }
";
const ACTIVITY: &str = r"
    query($first: Int) {
      activity(first: $first) {
        edges { cursor node { id } }
      }
    }
";

#[tokio::test]
async fn after_takes_a_cursor_of_either_activity_list_and_resumes_right_after_its_event() {
    for app in apps().await {
        let w = world(&app).await;
        let mgr = &w.cast.manager;
        let d = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "stageId": w.stage, "title": "Crack" }),
        )
        .await;
        for b in ["c1", "c2", "c3", "c4"] {
            app.ok(mgr, COMMENT, json!({ "id": d["id"], "b": b })).await;
        }
        let (addr, _stop) = serve(&app).await;

        // `Defect.activity`, oldest first: the second edge (c1) and the page's end.
        let page = app
            .ok(mgr, DEFECT_ACTIVITY, json!({ "id": d["id"], "first": 2 }))
            .await["defect"]["activity"]
            .clone();
        let edge = &page["edges"][1];
        assert_eq!(edge["cursor"], edge["node"]["cursor"]);
        assert_eq!(page["pageInfo"]["endCursor"], edge["cursor"]);
        let c1: i32 = edge["node"]["id"].as_str().unwrap().parse().unwrap();
        // `activity`, newest first: the second edge (c3).
        let feed = app.ok(mgr, ACTIVITY, json!({ "first": 2 })).await["activity"].clone();
        let c3: i32 = feed["edges"][1]["node"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let all: Vec<DefectEventKind> = DefectEventKind::iter().collect();
        for (cursor, after) in [
            (edge["cursor"].clone(), c1),
            (page["pageInfo"]["endCursor"].clone(), c1),
            (feed["edges"][1]["cursor"].clone(), c3),
        ] {
            let mut ws = open(addr, mgr).await;
            listen(&mut ws, "1", EVENTS, json!({ "d": d["id"], "a": cursor })).await;
            let got = seen(&drain(&mut ws, QUIET).await);
            assert_eq!(got, journal(&app, after, &all).await, "[{}]", app.backend);
            assert_eq!(got.first().map(|(id, _)| *id), Some(after + 1));
        }

        // A cursor of another list is not an event cursor.
        let defects = app
            .ok(
                mgr,
                "{ defects(first: 1) { pageInfo { endCursor } } }",
                json!({}),
            )
            .await["defects"]["pageInfo"]["endCursor"]
            .clone();
        let mut ws = open(addr, mgr).await;
        send(
            &mut ws,
            json!({ "id": "x", "type": "subscribe", "payload": { "query": EVENTS, "variables": { "a": defects } } }),
        )
        .await;
        match recv(&mut ws, Duration::from_secs(5)).await {
            Got::Json(v) => {
                assert_eq!(v["type"], "error", "[{}] {v}", app.backend);
                assert_eq!(
                    v["payload"][0]["extensions"]["code"], "BAD_USER_INPUT",
                    "{v}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
