//! The activity journal: one event per change with its field diff, none for a refused
//! or no-op mutation, and only for viewers who can see the defect.
use serde_json::{Value, json};

use crate::{
    defects::{create, world},
    files::{png, upload_request},
    helpers::{Actor, TestApp, apps_with, outcome},
};

const ACTIVITY: &str = "query($id: ID!) { defect(id: $id) { version activity(first: 100) { totalCount nodes { kind cursor defectId projectId actor { username } changes { field from to } comment { body } statusChange { comment toStatus } attachment { filename } defect { id } } } } }";
const FEED: &str = "query($f: ActivityFilter, $first: Int, $after: String) { activity(filter: $f, first: $first, after: $after) { totalCount nodes { id kind defectId } pageInfo { hasNextPage endCursor } } }";
const UPDATE: &str = "mutation($id: ID!, $i: UpdateDefectInput!, $v: Int) { updateDefect(id: $id, input: $i, expectedVersion: $v) { version } }";
const ASSIGN: &str =
    "mutation($id: ID!, $p: ID) { assignDefect(id: $id, performerId: $p) { version } }";
const MOVE: &str = "mutation($id: ID!, $s: DefectStatus!, $c: String, $v: Int) { changeDefectStatus(id: $id, status: $s, comment: $c, expectedVersion: $v) { version } }";
const COMMENT: &str =
    "mutation($id: ID!, $b: String!) { addComment(defectId: $id, body: $b) { id } }";

async fn apps() -> Vec<TestApp> {
    apps_with(|c| c.storage_url = "memory://".into()).await
}

async fn events(app: &TestApp, viewer: &Actor, id: &Value) -> Vec<Value> {
    app.ok(viewer, ACTIVITY, json!({ "id": id })).await["defect"]["activity"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

async fn last(app: &TestApp, viewer: &Actor, id: &Value) -> Value {
    events(app, viewer, id).await.last().unwrap().clone()
}

fn change(field: &str, from: Value, to: Value) -> Value {
    json!({ "field": field, "from": from, "to": to })
}

async fn upload(app: &TestApp, actor: &Actor, defect: &Value) -> Value {
    app.request(upload_request(
        Some(&actor.token),
        defect.as_str().unwrap(),
        "crack.png",
        &png(16, 16),
    ))
    .await
    .body
}

#[tokio::test]
async fn every_mutation_writes_one_event_with_its_diff() {
    for app in apps().await {
        let w = world(&app).await;
        let (mgr, eng) = (&w.cast.manager, &w.cast.engineer);
        let d = create(&app, mgr, json!({ "projectId": w.project, "stageId": w.stage, "title": "Cracked screed", "description": "level 3", "priority": "HIGH", "deadline": "2030-01-31", "performerId": eng.gid() })).await;
        let id = d["id"].clone();
        let created = last(&app, mgr, &id).await;
        assert_eq!(created["kind"], "CREATED");
        assert_eq!(created["actor"]["username"], mgr.username.as_str());
        assert_eq!(
            (created["defectId"].clone(), created["projectId"].clone()),
            (id.clone(), json!(w.project))
        );
        assert_eq!(created["defect"]["id"], id);
        assert_eq!(
            created["changes"],
            json!([
                change("number", Value::Null, json!("1")),
                change("title", Value::Null, json!("Cracked screed")),
                change("description", Value::Null, json!("level 3")),
                change("priority", Value::Null, json!("HIGH")),
                change("deadline", Value::Null, json!("2030-01-31")),
                change("stage", Value::Null, json!(w.stage)),
                change("performer", Value::Null, json!(eng.gid())),
                change("status", Value::Null, json!("NEW")),
            ])
        );

        // UPDATED: only the fields whose value changed.
        let v = app.ok(eng, UPDATE, json!({ "id": id, "i": { "title": "Cracked screed, bay 4", "deadline": null, "priority": "HIGH", "description": "level 3" } })).await;
        assert_eq!(v["updateDefect"]["version"], 2);
        let updated = last(&app, mgr, &id).await;
        assert_eq!(updated["kind"], "UPDATED");
        assert_eq!(updated["actor"]["username"], eng.username.as_str());
        assert_eq!(
            updated["changes"],
            json!([
                change(
                    "title",
                    json!("Cracked screed"),
                    json!("Cracked screed, bay 4")
                ),
                change("deadline", json!("2030-01-31"), Value::Null),
            ])
        );
        // A no-op update writes no event and bumps no version.
        let before = app.count("defect_events").await;
        let same = app.ok(eng, UPDATE, json!({ "id": id, "i": { "title": "Cracked screed, bay 4", "priority": "HIGH" }, "v": 2 })).await;
        assert_eq!(same["updateDefect"]["version"], 2);
        assert_eq!(app.count("defect_events").await, before);
        let row = app.ok(mgr, ACTIVITY, json!({ "id": id })).await;
        assert_eq!(row["defect"]["version"], 2);

        // ASSIGNED: the performer.
        app.ok(mgr, ASSIGN, json!({ "id": id, "p": null })).await;
        let a = last(&app, mgr, &id).await;
        assert_eq!(
            (a["kind"].as_str(), a["changes"].clone()),
            (
                Some("ASSIGNED"),
                json!([change("performer", json!(eng.gid()), Value::Null)])
            )
        );
        app.ok(mgr, ASSIGN, json!({ "id": id, "p": eng.gid() }))
            .await;
        let before = app.count("defect_events").await;
        app.ok(mgr, ASSIGN, json!({ "id": id, "p": eng.gid() }))
            .await;
        assert_eq!(
            app.count("defect_events").await,
            before,
            "reassigning the same performer is a no-op"
        );

        // STATUS_CHANGED: status, and closedAt when it changes.
        app.ok(
            mgr,
            MOVE,
            json!({ "id": id, "s": "IN_PROGRESS", "c": "start" }),
        )
        .await;
        let m = last(&app, mgr, &id).await;
        assert_eq!(
            m["statusChange"],
            json!({ "comment": "start", "toStatus": "IN_PROGRESS" })
        );
        assert!(created["statusChange"].is_null());
        assert_eq!(
            (m["kind"].as_str(), m["changes"].clone()),
            (
                Some("STATUS_CHANGED"),
                json!([change("status", json!("NEW"), json!("IN_PROGRESS"))])
            )
        );

        // COMMENTED, ATTACHMENT_ADDED / REMOVED (a removed one keeps its metadata).
        app.ok(eng, COMMENT, json!({ "id": id, "b": "poured again" }))
            .await;
        let c = last(&app, mgr, &id).await;
        assert_eq!(
            (
                c["kind"].as_str(),
                c["comment"]["body"].as_str(),
                c["changes"].clone()
            ),
            (Some("COMMENTED"), Some("poured again"), json!([]))
        );
        let file = upload(&app, eng, &id).await["data"]["uploadAttachment"]["id"].clone();
        let added = last(&app, mgr, &id).await;
        assert_eq!(
            (
                added["kind"].as_str(),
                added["attachment"]["filename"].as_str()
            ),
            (Some("ATTACHMENT_ADDED"), Some("crack.png"))
        );
        app.ok(
            eng,
            "mutation($id: ID!) { deleteAttachment(id: $id) }",
            json!({ "id": file }),
        )
        .await;
        let removed = last(&app, mgr, &id).await;
        assert_eq!(
            (
                removed["kind"].as_str(),
                removed["attachment"]["filename"].as_str()
            ),
            (Some("ATTACHMENT_REMOVED"), Some("crack.png"))
        );
        let added_again = &events(&app, mgr, &id).await[7];
        assert_eq!(
            added_again["attachment"]["filename"], "crack.png",
            "the ADDED event still describes the removed file"
        );

        // DELETED / RESTORED.
        app.ok(
            mgr,
            "mutation($id: ID!) { deleteDefect(id: $id) }",
            json!({ "id": id }),
        )
        .await;
        app.ok(
            mgr,
            "mutation($id: ID!) { restoreDefect(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
        app.ok(eng, MOVE, json!({ "id": id, "s": "REVIEW" })).await;
        app.ok(mgr, MOVE, json!({ "id": id, "s": "CLOSED" })).await;
        let all = events(&app, mgr, &id).await;
        let kinds: Vec<&str> = all.iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "CREATED",
                "UPDATED",
                "ASSIGNED",
                "ASSIGNED",
                "STATUS_CHANGED",
                "COMMENTED",
                "ATTACHMENT_ADDED",
                "ATTACHMENT_REMOVED",
                "DELETED",
                "RESTORED",
                "STATUS_CHANGED",
                "STATUS_CHANGED"
            ]
        );
        assert_eq!(all[8]["changes"], json!([]));
        let closed = &all[11]["changes"];
        assert_eq!(
            closed[0],
            change("status", json!("REVIEW"), json!("CLOSED"))
        );
        assert_eq!(closed[1]["field"], "closedAt");
        assert!(closed[1]["from"].is_null() && closed[1]["to"].as_str().unwrap().starts_with("20"));

        // Query.activity: newest first, filterable, Relay pages by the event's cursor.
        let feed = app.ok(mgr, FEED, json!({ "f": { "defectId": id } })).await["activity"].clone();
        assert_eq!(feed["totalCount"], 12);
        assert_eq!(feed["nodes"][0]["kind"], "STATUS_CHANGED");
        assert_eq!(feed["nodes"][2]["kind"], "RESTORED");
        let mine = app
            .ok(
                mgr,
                FEED,
                json!({ "f": { "actorId": eng.gid(), "kinds": ["COMMENTED", "UPDATED"] } }),
            )
            .await["activity"]
            .clone();
        let k: Vec<&str> = mine["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(k, ["COMMENTED", "UPDATED"]);
        let p1 = app.ok(mgr, FEED, json!({ "first": 5 })).await["activity"].clone();
        assert_eq!(p1["pageInfo"]["hasNextPage"], true);
        let p2 = app
            .ok(
                mgr,
                FEED,
                json!({ "first": 100, "after": p1["pageInfo"]["endCursor"] }),
            )
            .await["activity"]
            .clone();
        assert_eq!(p2["nodes"].as_array().unwrap().len(), 7);
        assert_eq!(p2["pageInfo"]["hasNextPage"], false);
        let cursor = all[5]["cursor"].clone();
        let after = app.ok(mgr, "query($id: ID!, $a: String) { defect(id: $id) { activity(after: $a) { nodes { kind } } } }", json!({ "id": id, "a": cursor })).await;
        assert_eq!(
            after["defect"]["activity"]["nodes"][0]["kind"],
            "ATTACHMENT_ADDED"
        );
        assert_eq!(
            app.code(Some(&mgr.token), FEED, json!({ "first": 101 }))
                .await,
            "BAD_USER_INPUT"
        );
        assert_eq!(
            app.code(Some(&mgr.token), FEED, json!({ "after": "garbage!" }))
                .await,
            "BAD_USER_INPUT"
        );
    }
}

#[tokio::test]
async fn a_refused_mutation_writes_no_event() {
    for app in apps().await {
        let w = world(&app).await;
        let (mgr, eng, obs, out) = (
            &w.cast.manager,
            &w.cast.engineer,
            &w.cast.observer,
            &w.cast.outsider,
        );
        let other = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "title": "Not yours" }),
        )
        .await;
        let id = other["id"].clone();
        let file = upload(&app, mgr, &id).await["data"]["uploadAttachment"]["id"].clone();
        let before = app.count("defect_events").await;
        let cases: Vec<(&Actor, &str, Value, &str)> = vec![
            (
                obs,
                "mutation($i: CreateDefectInput!) { createDefect(input: $i) { id } }",
                json!({ "i": { "projectId": w.project, "title": "x" } }),
                "FORBIDDEN",
            ),
            (
                mgr,
                "mutation($i: CreateDefectInput!) { createDefect(input: $i) { id } }",
                json!({ "i": { "projectId": w.project, "title": " " } }),
                "BAD_USER_INPUT",
            ),
            (
                eng,
                UPDATE,
                json!({ "id": id, "i": { "title": "mine now" } }),
                "FORBIDDEN",
            ),
            (
                out,
                UPDATE,
                json!({ "id": id, "i": { "title": "mine now" } }),
                "NOT_FOUND",
            ),
            (
                mgr,
                UPDATE,
                json!({ "id": id, "i": { "title": "stale" }, "v": 7 }),
                "CONFLICT",
            ),
            (
                eng,
                ASSIGN,
                json!({ "id": id, "p": eng.gid() }),
                "FORBIDDEN",
            ),
            (
                mgr,
                ASSIGN,
                json!({ "id": id, "p": out.gid() }),
                "BAD_USER_INPUT",
            ),
            (
                mgr,
                MOVE,
                json!({ "id": id, "s": "IN_PROGRESS" }),
                "INVALID_TRANSITION",
            ),
            (
                obs,
                MOVE,
                json!({ "id": id, "s": "CANCELLED" }),
                "FORBIDDEN",
            ),
            (
                mgr,
                COMMENT,
                json!({ "id": id, "b": "   " }),
                "BAD_USER_INPUT",
            ),
            (out, COMMENT, json!({ "id": id, "b": "hello" }), "NOT_FOUND"),
            (
                eng,
                "mutation($id: ID!) { deleteAttachment(id: $id) }",
                json!({ "id": file }),
                "FORBIDDEN",
            ),
            (
                eng,
                "mutation($id: ID!) { deleteDefect(id: $id) }",
                json!({ "id": id }),
                "FORBIDDEN",
            ),
            (
                obs,
                "mutation($id: ID!) { restoreDefect(id: $id) { id } }",
                json!({ "id": id }),
                "FORBIDDEN",
            ),
            (
                mgr,
                "mutation($id: ID!) { restoreDefect(id: $id) { id } }",
                json!({ "id": id }),
                "NOT_FOUND",
            ),
        ];
        for (who, q, vars, code) in cases {
            assert_eq!(app.code(Some(&who.token), q, vars).await, code, "{q}");
            assert_eq!(
                app.count("defect_events").await,
                before,
                "{q} wrote an event"
            );
        }
        assert_eq!(outcome(&upload(&app, obs, &id).await), "FORBIDDEN");
        assert_eq!(app.count("defect_events").await, before);
    }
}

#[tokio::test]
async fn activity_shows_only_events_of_defects_the_viewer_sees() {
    for app in apps().await {
        let w = world(&app).await;
        let (mgr, eng, out) = (&w.cast.manager, &w.cast.engineer, &w.cast.outsider);
        let d = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "title": "Inside" }),
        )
        .await;
        app.ok(eng, COMMENT, json!({ "id": d["id"], "b": "seen" }))
            .await;
        // The outsider's own project: an event they may see.
        let theirs = app.project(&w.cast.admin, "Annex").await;
        app.add_member(theirs.id, out.id).await;
        let own = create(
            &app,
            out,
            json!({ "projectId": theirs.id.to_string(), "title": "Outside" }),
        )
        .await;

        let feed = app.ok(out, FEED, json!({})).await["activity"].clone();
        assert_eq!(feed["totalCount"], 1);
        assert_eq!(feed["nodes"][0]["defectId"], own["id"]);
        let by_defect = app
            .ok(out, FEED, json!({ "f": { "defectId": d["id"] } }))
            .await;
        assert_eq!(by_defect["activity"]["totalCount"], 0);
        let direct = app.ok(out, ACTIVITY, json!({ "id": d["id"] })).await;
        assert!(direct["defect"].is_null());

        let member = app.ok(eng, FEED, json!({})).await["activity"].clone();
        assert_eq!(
            member["totalCount"], 2,
            "the member sees CREATED and COMMENTED of their project"
        );
        let observer = app.ok(&w.cast.observer, FEED, json!({})).await["activity"].clone();
        assert_eq!(observer["totalCount"], 3);
        // The time window, on both databases' timestamp storage.
        let window = |from: &str, to: &str| json!({ "f": { "from": from, "to": to } });
        let all = app
            .ok(
                &w.cast.observer,
                FEED,
                window("2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z"),
            )
            .await;
        assert_eq!(all["activity"]["totalCount"], 3);
        let later = app
            .ok(
                &w.cast.observer,
                FEED,
                window("2999-01-01T00:00:00Z", "2999-12-31T00:00:00Z"),
            )
            .await;
        assert_eq!(later["activity"]["totalCount"], 0);
        let earlier = app
            .ok(
                &w.cast.observer,
                FEED,
                window("2000-01-01T00:00:00Z", "2000-12-31T00:00:00Z"),
            )
            .await;
        assert_eq!(earlier["activity"]["totalCount"], 0);

        // A deleted defect's events leave the feed with it (and come back on restore).
        app.ok(
            mgr,
            "mutation($id: ID!) { deleteDefect(id: $id) }",
            json!({ "id": d["id"] }),
        )
        .await;
        assert_eq!(
            app.ok(eng, FEED, json!({})).await["activity"]["totalCount"],
            0
        );
        assert_eq!(app.count("defect_events").await, 4);
    }
}

#[tokio::test]
async fn an_activity_page_costs_the_same_statements_at_10_and_100_events() {
    use std::sync::atomic::Ordering;
    for app in apps().await {
        let w = world(&app).await;
        let mgr = &w.cast.manager;
        for i in 0..50 {
            let d = create(
                &app,
                mgr,
                json!({ "projectId": w.project, "title": format!("Defect {i}") }),
            )
            .await;
            app.ok(
                &w.cast.observer,
                COMMENT,
                json!({ "id": d["id"], "b": "noted" }),
            )
            .await;
        }
        let q = "query($n: Int) { activity(first: $n) { totalCount nodes { kind actor { username } defect { title } comment { body } statusChange { comment } attachment { filename } } } }";
        let mut counts = Vec::new();
        for n in [10, 100] {
            let before = app.statements.load(Ordering::SeqCst);
            let data = app.ok(mgr, q, json!({ "n": n })).await;
            counts.push(app.statements.load(Ordering::SeqCst) - before);
            assert_eq!(data["activity"]["nodes"].as_array().unwrap().len(), n);
            assert_eq!(data["activity"]["nodes"][0]["comment"]["body"], "noted");
            assert_eq!(data["activity"]["nodes"][1]["defect"]["title"], "Defect 49");
        }
        assert_eq!(
            counts[0], counts[1],
            "[{}] statements per page: {counts:?}",
            app.backend
        );
    }
}

/// An event's cursor is its id alone: a cursor of the defect list (a sort key, then a
/// defect id) is refused by both activity lists instead of being read as an event id.
#[tokio::test]
async fn activity_refuses_a_cursor_of_another_list() {
    for app in apps().await {
        let w = world(&app).await;
        let mgr = &w.cast.manager;
        let d = create(&app, mgr, json!({ "projectId": w.project, "title": "One" })).await;
        let foreign = app
            .ok(
                mgr,
                "{ defects(first: 1) { pageInfo { endCursor } } }",
                json!({}),
            )
            .await["defects"]["pageInfo"]["endCursor"]
            .clone();
        assert_eq!(
            app.code(Some(&mgr.token), FEED, json!({ "after": foreign }))
                .await,
            "BAD_USER_INPUT",
            "[{}]",
            app.backend
        );
        let of_defect = "query($id: ID!, $a: String) { defect(id: $id) { activity(after: $a) { totalCount } } }";
        assert_eq!(
            app.code(
                Some(&mgr.token),
                of_defect,
                json!({ "id": d["id"], "a": foreign })
            )
            .await,
            "BAD_USER_INPUT"
        );
        // An event's own cursor works in both.
        let cursor =
            app.ok(mgr, FEED, json!({})).await["activity"]["pageInfo"]["endCursor"].clone();
        app.ok(mgr, FEED, json!({ "after": cursor })).await;
        app.ok(mgr, of_defect, json!({ "id": d["id"], "a": cursor }))
            .await;
    }
}
