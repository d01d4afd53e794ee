//! Bulk changes (FIELD.md "Bulk changes"): each item is the single mutation, with its
//! code, its own transaction, journal events and notifications; the limits.
use defect_control::entities::enums::{DefectStatus, Role};
use serde_json::{Value, json};

use crate::{
    builders::{DefectBuilder, ProjectBuilder},
    helpers::{Actor, TestApp, apps, outcome},
};

const BULK_STATUS: &str = r"
    mutation($ids: [ID!]!, $to: DefectStatus!, $c: String) {
      bulkChangeStatus(ids: $ids, to: $to, comment: $c) {
        succeeded failed
        results { id ok code message defect { id status version } }
      }
    }
";
const BULK_UPDATE: &str = r"
    mutation($ids: [ID!]!, $p: BulkDefectPatch!) {
      bulkUpdateDefects(ids: $ids, patch: $p) {
        succeeded failed
        results { id ok code message defect { id priority performer { id } version } }
      }
    }
";
const MOVE: &str = r"
    mutation($id: ID!, $s: DefectStatus!, $c: String) {
      changeDefectStatus(id: $id, status: $s, comment: $c) { id }
    }
";
const UPDATE: &str = r"
    mutation($id: ID!, $i: UpdateDefectInput!) {
      updateDefect(id: $id, input: $i) { id }
    }
";
const ASSIGN: &str = r"
    mutation($id: ID!, $p: ID) {
      assignDefect(id: $id, performerId: $p) { id }
    }
";

struct People {
    manager: Actor,
    engineer: Actor,
    other: Actor,
    stranger: Actor,
}

async fn people(app: &TestApp) -> People {
    People {
        manager: app.actor(Role::Manager).await,
        engineer: app.actor(Role::Engineer).await,
        other: app.actor(Role::Engineer).await,
        stranger: app.actor(Role::Engineer).await,
    }
}

/// One copy of the scenario: a project (the engineers `engineer` and `other` members)
/// with defects in every kind of state, and one in a project the engineer cannot see.
/// The ids in a fixed order, with a bad id and a duplicate among them.
async fn scenario(app: &TestApp, p: &People) -> Vec<Value> {
    let m = &p.manager;
    let project = ProjectBuilder::new(m, "Block")
        .member(p.engineer.id)
        .member(p.other.id)
        .create(app)
        .await;
    let hidden = ProjectBuilder::new(m, "Hidden").create(app).await;
    let d = |status, performer: Option<i32>| {
        DefectBuilder::new(project.id, m, m)
            .performer(performer)
            .status(status)
    };
    let new = d(DefectStatus::New, None).create(app).await;
    let assigned = d(DefectStatus::New, Some(p.engineer.id)).create(app).await;
    let working = d(DefectStatus::InProgress, Some(p.engineer.id))
        .create(app)
        .await;
    let others = d(DefectStatus::InProgress, Some(p.other.id))
        .create(app)
        .await;
    let review = d(DefectStatus::Review, Some(p.engineer.id))
        .create(app)
        .await;
    let closed = d(DefectStatus::Closed, Some(p.engineer.id))
        .create(app)
        .await;
    let invisible = DefectBuilder::new(hidden.id, m, m).create(app).await;
    let id = |d: &defect_control::entities::defects::Model| json!(d.id.to_string());
    vec![
        id(&working),
        id(&new),
        id(&assigned),
        json!("not-an-id"),
        id(&others),
        id(&working),
        id(&review),
        id(&closed),
        id(&invisible),
    ]
}

/// The ids without their repeats, as the results list them.
fn distinct(ids: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for id in ids {
        if !out.contains(id) {
            out.push(id.clone());
        }
    }
    out
}

fn codes(results: &Value) -> Vec<String> {
    results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap_or("OK").to_owned())
        .collect()
}

#[tokio::test]
async fn bulk_status_items_get_the_single_mutations_codes() {
    for app in apps().await {
        let p = people(&app).await;
        for (actor, to) in [
            (&p.engineer, "REVIEW"),
            (&p.engineer, "IN_PROGRESS"),
            (&p.manager, "CLOSED"),
            (&p.manager, "CANCELLED"),
            (&p.stranger, "IN_PROGRESS"),
        ] {
            let bulk_ids = scenario(&app, &p).await;
            let single_ids = distinct(&scenario(&app, &p).await);
            let body = app
                .gql(
                    Some(&actor.token),
                    BULK_STATUS,
                    json!({ "ids": bulk_ids, "to": to, "c": "walk" }),
                )
                .await;
            let r = &body["data"]["bulkChangeStatus"];
            let got_ids: Vec<Value> = r["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].clone())
                .collect();
            assert_eq!(got_ids, distinct(&bulk_ids), "[{}] {body}", app.backend);
            let mut expected = Vec::new();
            for id in &single_ids {
                let one = app
                    .gql(
                        Some(&actor.token),
                        MOVE,
                        json!({ "id": id, "s": to, "c": "walk" }),
                    )
                    .await;
                expected.push(outcome(&one));
            }
            assert_eq!(
                codes(r),
                expected,
                "[{}] {to} by {:?}",
                app.backend,
                actor.role
            );
            let ok = expected.iter().filter(|c| *c == "OK").count() as i64;
            assert_eq!(r["succeeded"], ok);
            assert_eq!(r["failed"], expected.len() as i64 - ok);
            for item in r["results"].as_array().unwrap() {
                if item["ok"] == true {
                    assert_eq!(item["defect"]["status"], to, "{item}");
                } else {
                    assert!(item["defect"].is_null() && item["message"].is_string());
                }
            }
        }
    }
}

#[tokio::test]
async fn bulk_update_items_get_the_single_mutations_codes() {
    for app in apps().await {
        let p = people(&app).await;
        let patches = [
            json!({ "priority": "HIGH" }),
            json!({ "performerId": p.other.gid() }),
            json!({ "performerId": null }),
            json!({ "priority": "LOW", "performerId": p.other.gid() }),
            // The update passes, the assignment is refused: the item is refused whole.
            json!({ "priority": "LOW", "performerId": p.stranger.gid() }),
            json!({ "deadline": "2031-01-31", "stageId": null }),
        ];
        for actor in [&p.manager, &p.engineer] {
            for patch in &patches {
                let bulk_ids = scenario(&app, &p).await;
                let single_ids = distinct(&scenario(&app, &p).await);
                let body = app
                    .gql(
                        Some(&actor.token),
                        BULK_UPDATE,
                        json!({ "ids": bulk_ids, "p": patch }),
                    )
                    .await;
                let r = &body["data"]["bulkUpdateDefects"];
                assert!(r.is_object(), "[{}] {body}", app.backend);
                let mut fields = patch.clone();
                let performer = fields.as_object_mut().unwrap().remove("performerId");
                let mut expected = Vec::new();
                for id in &single_ids {
                    let mut code = "OK".to_owned();
                    if !fields.as_object().unwrap().is_empty() {
                        let one = app
                            .gql(Some(&actor.token), UPDATE, json!({ "id": id, "i": fields }))
                            .await;
                        code = outcome(&one);
                    }
                    if code == "OK"
                        && let Some(performer) = &performer
                    {
                        let one = app
                            .gql(
                                Some(&actor.token),
                                ASSIGN,
                                json!({ "id": id, "p": performer }),
                            )
                            .await;
                        code = outcome(&one);
                    }
                    expected.push(code);
                }
                assert_eq!(
                    codes(r),
                    expected,
                    "[{}] {patch} by {:?}",
                    app.backend,
                    actor.role
                );
            }
        }
    }
}

#[tokio::test]
async fn a_refused_item_leaves_its_defect_and_journal_untouched() {
    for app in apps().await {
        let p = people(&app).await;
        let ids = scenario(&app, &p).await;
        let working = ids[0].clone();
        let before = app.snapshot().await;
        // The priority would pass; the stranger is no member, so the assignment fails,
        // and the item's update is undone with it.
        let body = app
            .gql(
                Some(&p.manager.token),
                BULK_UPDATE,
                json!({ "ids": [working], "p": { "priority": "LOW", "performerId": p.stranger.gid() } }),
            )
            .await;
        let r = &body["data"]["bulkUpdateDefects"];
        assert_eq!(codes(r), ["BAD_USER_INPUT"], "[{}] {body}", app.backend);
        assert_eq!(app.snapshot().await, before, "[{}]", app.backend);
        // A good item next to refused ones writes only itself, with its events.
        let events = app.count("defect_events").await;
        let body = app
            .gql(
                Some(&p.manager.token),
                BULK_STATUS,
                json!({ "ids": [ids[7], ids[0], "999999"], "to": "REVIEW" }),
            )
            .await;
        let r = &body["data"]["bulkChangeStatus"];
        assert_eq!(
            codes(r),
            ["INVALID_TRANSITION", "OK", "NOT_FOUND"],
            "[{}] {body}",
            app.backend
        );
        assert_eq!(app.count("defect_events").await, events + 1);
    }
}

#[tokio::test]
async fn journal_events_and_notifications_are_those_of_one_by_one() {
    for app in apps().await {
        let p = people(&app).await;
        let a = scenario(&app, &p).await;
        let b = scenario(&app, &p).await;
        app.pump().await;
        let (events, notes) = (
            app.count("defect_events").await,
            app.count("notifications").await,
        );
        let pick = |ids: &[Value]| vec![ids[1].clone(), ids[2].clone(), ids[4].clone()];
        let body = app
            .gql(
                Some(&p.manager.token),
                BULK_UPDATE,
                json!({ "ids": pick(&a), "p": { "priority": "HIGH", "performerId": p.engineer.gid() } }),
            )
            .await;
        assert_eq!(body["data"]["bulkUpdateDefects"]["failed"], 0, "{body}");
        app.pump().await;
        let bulk = (
            app.count("defect_events").await - events,
            app.count("notifications").await - notes,
        );
        for id in pick(&b) {
            app.ok(
                &p.manager,
                UPDATE,
                json!({ "id": id, "i": { "priority": "HIGH" } }),
            )
            .await;
            app.ok(
                &p.manager,
                ASSIGN,
                json!({ "id": id, "p": p.engineer.gid() }),
            )
            .await;
        }
        app.pump().await;
        let single = (
            app.count("defect_events").await - events - bulk.0,
            app.count("notifications").await - notes - bulk.1,
        );
        assert_eq!(bulk, single, "[{}]", app.backend);
        assert!(bulk.0 >= 5 && bulk.1 >= 2, "[{}] {bulk:?}", app.backend);
    }
}

#[tokio::test]
async fn more_than_200_ids_and_an_empty_patch_are_refused() {
    for app in apps().await {
        let p = people(&app).await;
        let ids: Vec<String> = (1..=201).map(|i| i.to_string()).collect();
        let before = app.snapshot().await;
        for (query, vars) in [
            (BULK_STATUS, json!({ "ids": ids, "to": "CANCELLED" })),
            (
                BULK_UPDATE,
                json!({ "ids": ids, "p": { "priority": "LOW" } }),
            ),
            (BULK_UPDATE, json!({ "ids": ["1"], "p": {} })),
        ] {
            let body = app.gql(Some(&p.manager.token), query, vars).await;
            assert_eq!(outcome(&body), "BAD_USER_INPUT", "[{}] {body}", app.backend);
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(
                message.starts_with("ids:") || message.starts_with("patch:"),
                "{message}"
            );
        }
        // 200 distinct ids, repeated, are fine (every one NOT_FOUND here).
        let mut two_hundred: Vec<String> = (1..=200).map(|i| (i + 100_000).to_string()).collect();
        two_hundred.extend(two_hundred.clone());
        let body = app
            .gql(
                Some(&p.manager.token),
                BULK_STATUS,
                json!({ "ids": two_hundred, "to": "CANCELLED" }),
            )
            .await;
        assert_eq!(body["data"]["bulkChangeStatus"]["failed"], 200, "{body}");
        assert_eq!(app.snapshot().await, before);
    }
}

#[tokio::test]
async fn item_messages_are_in_the_callers_language() {
    use axum::{
        body::Body,
        http::{Request, header},
    };
    for app in apps().await {
        let p = people(&app).await;
        let ids = scenario(&app, &p).await;
        let mut said = Vec::new();
        for lang in ["en", "ru"] {
            let body =
                json!({ "query": BULK_STATUS, "variables": { "ids": [ids[7]], "to": "REVIEW" } });
            let req = Request::post("/graphql")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {}", p.manager.token))
                .header(header::ACCEPT_LANGUAGE, lang)
                .body(Body::from(body.to_string()))
                .unwrap();
            let res = app.request(req).await;
            let item = &res.body["data"]["bulkChangeStatus"]["results"][0];
            assert_eq!(item["code"], "INVALID_TRANSITION", "{}", res.body);
            said.push(item["message"].as_str().unwrap().to_owned());
        }
        assert_eq!(said[0], "a CLOSED defect is final", "[{}]", app.backend);
        assert!(
            said[1].chars().any(|c| matches!(c, 'а'..='я')),
            "[{}] {}",
            app.backend,
            said[1]
        );
    }
}
