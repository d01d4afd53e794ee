//! `updateDefect(input: { location: null })` removes the pin (API.md outline: "location:
//! null removes the pin"): the four columns go NULL, the version moves once and the
//! journal gets one UPDATED event with a single `location` change to null. Leaving
//! `location` out of the input leaves the pin as it is; unpinning an unpinned defect is a
//! no-op (no event, no version).
use defect_control::entities::{defect_events, defects};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use super::{CREATE, UPDATE, site, upload};
use crate::{files, helpers::TestApp, helpers::apps};

/// `(plan_id, x, y, label, version)` of the defect's row.
async fn pin_of(
    app: &TestApp,
    id: i32,
) -> (Option<i32>, Option<f64>, Option<f64>, Option<String>, i32) {
    let d = defects::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    (
        d.plan_id,
        d.location_x,
        d.location_y,
        d.location_label,
        d.version,
    )
}

/// The defect's journal, oldest first: `(kind, changes)`.
async fn journal(app: &TestApp, id: i32) -> Vec<(String, Value)> {
    defect_events::Entity::find()
        .filter(defect_events::Column::DefectId.eq(id))
        .order_by_asc(defect_events::Column::Id)
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            (
                json!(e.kind).as_str().unwrap().to_owned(),
                serde_json::from_str(&e.changes).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn location_null_unpins_once_and_leaving_it_out_keeps_the_pin() {
    for app in apps().await {
        let s = site(&app).await;
        let body = upload(
            &app,
            &s.manager,
            s.project,
            None,
            "L3",
            "l3.png",
            &files::png(40, 20),
        )
        .await;
        let plan = body["data"]["uploadPlan"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let plan_id: i32 = plan.parse().unwrap();
        let d = app
            .ok(
                &s.engineer,
                CREATE,
                json!({ "i": { "projectId": s.project.to_string(), "title": "Crack",
                    "location": { "planId": plan, "x": 0.25, "y": 0.75, "label": "axis C/7" } } }),
            )
            .await["createDefect"]
            .clone();
        let gid = d["id"].clone();
        let id: i32 = gid.as_str().unwrap().parse().unwrap();
        let pinned = (
            Some(plan_id),
            Some(0.25),
            Some(0.75),
            Some("axis C/7".to_owned()),
            1,
        );
        assert_eq!(pin_of(&app, id).await, pinned, "[{}]", app.backend);

        // Another field, location left out: the pin stays, the diff names the title only.
        let v = app
            .ok(
                &s.engineer,
                UPDATE,
                json!({ "id": gid, "i": { "title": "Wider crack" } }),
            )
            .await;
        assert_eq!(v["updateDefect"]["version"], 2);
        assert_eq!(
            v["updateDefect"]["location"],
            json!({ "x": 0.25, "y": 0.75, "label": "axis C/7", "plan": { "id": plan } })
        );
        assert_eq!(
            pin_of(&app, id).await,
            (pinned.0, pinned.1, pinned.2, pinned.3.clone(), 2)
        );
        let events = journal(&app, id).await;
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[1],
            (
                "UPDATED".to_owned(),
                json!([{ "field": "title", "from": "Crack", "to": "Wider crack" }])
            )
        );

        // null: unpinned, one event with one change.
        let v = app
            .ok(
                &s.engineer,
                UPDATE,
                json!({ "id": gid, "i": { "location": null } }),
            )
            .await;
        assert!(v["updateDefect"]["location"].is_null());
        assert_eq!(v["updateDefect"]["version"], 3);
        assert_eq!(
            pin_of(&app, id).await,
            (None, None, None, None, 3),
            "[{}]",
            app.backend
        );
        let events = journal(&app, id).await;
        assert_eq!(events.len(), 3, "[{}] {events:?}", app.backend);
        let (kind, changes) = &events[2];
        assert_eq!(kind, "UPDATED");
        let changes = changes.as_array().unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0]["field"], "location");
        assert!(changes[0]["to"].is_null(), "{changes:?}");
        let from: Value = serde_json::from_str(changes[0]["from"].as_str().unwrap()).unwrap();
        assert_eq!(
            from,
            json!({ "plan": plan, "x": 0.25, "y": 0.75, "label": "axis C/7" })
        );
        // The same through the API.
        let activity = app
            .ok(
                &s.manager,
                "query($id: ID!) { defect(id: $id) { location { x } activity { nodes { changes { field to } } } } }",
                json!({ "id": gid }),
            )
            .await;
        assert!(activity["defect"]["location"].is_null());
        assert_eq!(
            activity["defect"]["activity"]["nodes"][2]["changes"],
            json!([{ "field": "location", "to": null }])
        );

        // Unpinning again changes nothing: no version, no event.
        let v = app
            .ok(
                &s.engineer,
                UPDATE,
                json!({ "id": gid, "i": { "location": null } }),
            )
            .await;
        assert_eq!(v["updateDefect"]["version"], 3);
        assert_eq!(pin_of(&app, id).await, (None, None, None, None, 3));
        assert_eq!(journal(&app, id).await.len(), 3);
        // And a pin is not needed for other edits.
        let v = app
            .ok(
                &s.engineer,
                UPDATE,
                json!({ "id": gid, "i": { "description": "Along the joint" } }),
            )
            .await;
        assert_eq!(v["updateDefect"]["version"], 4);
        assert!(v["updateDefect"]["location"].is_null());
    }
}
