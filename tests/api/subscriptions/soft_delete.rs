//! Soft delete, live: the DELETED event reaches every subscriber who could see the
//! defect (it is how a screen learns that the defect went: `defect` is null, `defectId`
//! names it, as the outline's `defectId` says); while it is deleted nothing else of it is
//! written or delivered; RESTORED brings delivery back. A client that resumes with
//! `after` from before the delete gets the DELETED event too (EVENTS.md: "A client that
//! reconnects with the last cursor it saw has missed nothing").
use std::time::Duration;

use defect_control::entities::{defect_events, enums::DefectEventKind};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use super::{Ws, comment_over_http, drain, listen, newest_cursor, open, serve};
use crate::{
    defects::{create, world},
    helpers::{TestApp, apps},
};

const EVENTS: &str = r"
    subscription($d: ID, $a: String) {
      defectEvents(defectId: $d, after: $a) {
        id kind defectId
        defect { id deletedAt }
        comment { body }
      }
    }
";
const DELETE: &str = r"
    mutation($id: ID!) {
      deleteDefect(id: $id)
    }
";
const RESTORE: &str = r"
    mutation($id: ID!) {
      restoreDefect(id: $id) { id }
    }
";
const COMMENT: &str = r"
    mutation($id: ID!, $b: String!) {
      addComment(defectId: $id, body: $b) { id }
    }
";
const QUIET: Duration = Duration::from_millis(1500);

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

/// The id of the defect's newest journal event of `kind`.
async fn event_id(app: &TestApp, defect: &Value, kind: DefectEventKind) -> String {
    defect_events::Entity::find()
        .filter(
            defect_events::Column::DefectId.eq(defect.as_str().unwrap().parse::<i32>().unwrap()),
        )
        .filter(defect_events::Column::Kind.eq(kind))
        .order_by_desc(defect_events::Column::Id)
        .one(app.db())
        .await
        .unwrap()
        .expect("the event is in the journal")
        .id
        .to_string()
}

#[tokio::test]
async fn deleted_is_delivered_to_whoever_saw_the_defect_and_restored_brings_it_back() {
    for app in apps().await {
        let w = world(&app).await;
        let (admin, mgr) = (&w.cast.admin, &w.cast.manager);
        let d = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "stageId": w.stage, "title": "Crack" }),
        )
        .await;
        let from = newest_cursor(&app, mgr).await;
        let (addr, _stop) = serve(&app).await;
        // Everyone who sees the project, one of them on the defect alone; the outsider
        // sees nothing of it.
        let mut sees: Vec<(&str, Ws)> = Vec::new();
        for (name, who, vars) in [
            ("admin", admin, json!({})),
            ("manager", mgr, json!({ "d": d["id"] })),
            ("engineer", &w.cast.engineer, json!({})),
            ("observer", &w.cast.observer, json!({})),
        ] {
            let mut ws = open(addr, who).await;
            listen(&mut ws, "1", EVENTS, vars).await;
            sees.push((name, ws));
        }
        let mut outsider = open(addr, &w.cast.outsider).await;
        listen(&mut outsider, "1", EVENTS, json!({})).await;

        app.ok(mgr, DELETE, json!({ "id": d["id"] })).await;
        let deleted = event_id(&app, &d["id"], DefectEventKind::Deleted).await;
        for (name, ws) in &mut sees {
            let got = drain(ws, QUIET).await;
            assert_eq!(kinds(&got), ["DELETED"], "[{}] {name}", app.backend);
            assert_eq!(got[0]["id"], deleted.as_str());
            assert_eq!(got[0]["defectId"], d["id"]);
            assert!(got[0]["defect"].is_null(), "{name}: {}", got[0]);
        }
        assert!(
            drain(&mut outsider, Duration::from_millis(200))
                .await
                .is_empty()
        );

        // Deleted: nothing can be written on it, so nothing comes.
        let journal = app.count("defect_events").await;
        assert_eq!(
            app.code(
                Some(&mgr.token),
                COMMENT,
                json!({ "id": d["id"], "b": "too late" })
            )
            .await,
            "NOT_FOUND"
        );
        assert_eq!(app.count("defect_events").await, journal);

        // Resuming from before the delete replays the DELETED event, for a manager and
        // for the member engineer alike.
        for who in [mgr, &w.cast.engineer] {
            let mut ws = open(addr, who).await;
            listen(&mut ws, "r", EVENTS, json!({ "a": from })).await;
            let got = drain(&mut ws, QUIET).await;
            assert_eq!(
                kinds(&got),
                ["DELETED"],
                "[{}] {}",
                app.backend,
                who.username
            );
            assert_eq!(got[0]["id"], deleted.as_str());
        }
        let mut ws = open(addr, &w.cast.outsider).await;
        listen(&mut ws, "r", EVENTS, json!({ "a": from })).await;
        assert!(drain(&mut ws, QUIET).await.is_empty());

        // Restored: RESTORED, then the defect's events flow again.
        app.ok(admin, RESTORE, json!({ "id": d["id"] })).await;
        comment_over_http(addr, mgr, &d["id"], "back").await;
        for (name, ws) in &mut sees {
            let got = drain(ws, QUIET).await;
            assert_eq!(
                kinds(&got),
                ["RESTORED", "COMMENTED"],
                "[{}] {name}",
                app.backend
            );
            assert_eq!(got[0]["defect"]["id"], d["id"]);
            assert!(got[0]["defect"]["deletedAt"].is_null());
            assert_eq!(got[1]["comment"]["body"], "back");
        }
        assert!(
            drain(&mut outsider, Duration::from_millis(200))
                .await
                .is_empty()
        );
    }
}
