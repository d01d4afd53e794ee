//! The defect workflow over GraphQL: the status machine, the role limits, the rules,
//! optimistic concurrency and N+1-free loading.
use std::sync::atomic::Ordering;

use defect_control::entities::{
    defects,
    enums::{DefectStatus, Role},
    status_changes,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::{
    builders::{DefectBuilder, ProjectBuilder},
    helpers::{Actor, TestApp, apps, outcome},
};

pub const CREATE: &str = r"
    mutation($i: CreateDefectInput!) {
      createDefect(input: $i) {
        id version status priority
        author { username }
        performer { username }
      }
    }
";
const UPDATE: &str = r"
    mutation($id: ID!, $i: UpdateDefectInput!, $v: Int) {
      updateDefect(id: $id, input: $i, expectedVersion: $v) {
        id version title deadline priority
        stage { id }
      }
    }
";
const ASSIGN: &str = r"
    mutation($id: ID!, $p: ID, $v: Int) {
      assignDefect(id: $id, performerId: $p, expectedVersion: $v) {
        version
        performer { username }
      }
    }
";
const MOVE: &str = r"
    mutation($id: ID!, $s: DefectStatus!, $c: String, $v: Int) {
      changeDefectStatus(id: $id, status: $s, comment: $c, expectedVersion: $v) {
        status version closedAt allowedTransitions
      }
    }
";
const DELETE: &str = r"
    mutation($id: ID!) {
      deleteDefect(id: $id)
    }
";
const COMMENT: &str = r"
    mutation($id: ID!, $b: String!) {
      addComment(defectId: $id, body: $b) {
        id body
        author { username }
      }
    }
";
const DETAIL: &str = r"
    query($id: ID!) {
      defect(id: $id) {
        id status version closedAt isOverdue allowedTransitions commentCount
        comments { body author { username } }
        history { fromStatus toStatus comment changedBy { username } changedAt }
      }
    }
";
const DEACTIVATE: &str = r"
    mutation($id: ID!) {
      updateUser(id: $id, input: { isActive: false }) { id }
    }
";
const CLOSE_PROJECT: &str = r"
    mutation($id: ID!) {
      updateProject(id: $id, input: { status: CLOSED }) { id }
    }
";
const DELETE_PROJECT: &str = r"
    mutation($id: ID!) {
      deleteProject(id: $id)
    }
";
const COUNT: &str = r"
    {
      defects { totalCount }
    }
";

/// A project with one stage, the cast's engineer as a member.
pub struct World {
    pub cast: crate::helpers::Cast,
    pub project: String,
    pub stage: String,
}

pub async fn world(app: &TestApp) -> World {
    let cast = app.cast().await;
    let project = ProjectBuilder::new(&cast.admin, "Tower")
        .member(cast.engineer.id)
        .create(app)
        .await;
    let stage = app.stage(project.id, "Frame").await;
    World {
        cast,
        project: project.id.to_string(),
        stage: stage.id.to_string(),
    }
}

/// A defect's GraphQL id.
fn gid(d: &defects::Model) -> Value {
    json!(d.id.to_string())
}

pub async fn create(app: &TestApp, by: &Actor, input: Value) -> Value {
    app.ok(by, CREATE, json!({ "i": input })).await["createDefect"].clone()
}

async fn mv(app: &TestApp, by: &Actor, id: &Value, to: &str, comment: Option<&str>) -> Value {
    app.ok(by, MOVE, json!({ "id": id, "s": to, "c": comment }))
        .await["changeDefectStatus"]
        .clone()
}

#[tokio::test]
async fn the_whole_workflow_with_rework_history_versions_and_closed_at() {
    for app in apps().await {
        let w = world(&app).await;
        let (mgr, eng) = (&w.cast.manager, &w.cast.engineer);
        let d = create(&app, mgr, json!({ "projectId": w.project, "stageId": w.stage, "title": "Cracked screed", "priority": "HIGH" })).await;
        assert_eq!(
            (d["status"].as_str(), d["version"].as_i64()),
            (Some("NEW"), Some(1))
        );
        let id = d["id"].clone();

        let a = app
            .ok(mgr, ASSIGN, json!({ "id": id, "p": eng.gid(), "v": 1 }))
            .await;
        assert_eq!(a["assignDefect"]["version"], 2);
        assert_eq!(
            a["assignDefect"]["performer"]["username"],
            eng.username.as_str()
        );

        assert_eq!(mv(&app, mgr, &id, "IN_PROGRESS", None).await["version"], 3);
        let r = mv(&app, eng, &id, "REVIEW", Some("poured again")).await;
        assert_eq!(
            (r["status"].as_str(), r["version"].as_i64()),
            (Some("REVIEW"), Some(4))
        );
        assert_eq!(
            r["allowedTransitions"],
            json!([]),
            "the engineer may not close"
        );
        let back = mv(&app, mgr, &id, "IN_PROGRESS", Some("still uneven")).await;
        assert_eq!(back["version"], 5);
        assert!(back["closedAt"].is_null());
        mv(&app, eng, &id, "REVIEW", None).await;
        let closed = mv(&app, mgr, &id, "CLOSED", Some("accepted")).await;
        assert_eq!(
            (closed["status"].as_str(), closed["version"].as_i64()),
            (Some("CLOSED"), Some(7))
        );
        assert!(closed["closedAt"].is_string());
        assert_eq!(closed["allowedTransitions"], json!([]));

        // Final: comments only.
        app.ok(eng, COMMENT, json!({ "id": id, "b": "thanks" }))
            .await;
        let before = app.snapshot().await;
        assert_eq!(
            app.code(
                Some(&mgr.token),
                UPDATE,
                json!({ "id": id, "i": { "title": "x" } })
            )
            .await,
            "BAD_USER_INPUT"
        );
        assert_eq!(
            app.code(Some(&mgr.token), ASSIGN, json!({ "id": id, "p": null }))
                .await,
            "BAD_USER_INPUT"
        );
        assert_eq!(
            app.code(
                Some(&mgr.token),
                MOVE,
                json!({ "id": id, "s": "IN_PROGRESS" })
            )
            .await,
            "INVALID_TRANSITION"
        );
        assert_eq!(app.snapshot().await, before);

        let detail = app.ok(mgr, DETAIL, json!({ "id": id })).await["defect"].clone();
        let steps: Vec<(Value, Value, Value, Value)> = detail["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["fromStatus"].clone(),
                    h["toStatus"].clone(),
                    h["changedBy"]["username"].clone(),
                    h["comment"].clone(),
                )
            })
            .collect();
        let m = json!(mgr.username);
        let e = json!(eng.username);
        assert_eq!(
            steps,
            vec![
                (Value::Null, json!("NEW"), m.clone(), Value::Null),
                (json!("NEW"), json!("IN_PROGRESS"), m.clone(), Value::Null),
                (
                    json!("IN_PROGRESS"),
                    json!("REVIEW"),
                    e.clone(),
                    json!("poured again")
                ),
                (
                    json!("REVIEW"),
                    json!("IN_PROGRESS"),
                    m.clone(),
                    json!("still uneven")
                ),
                (
                    json!("IN_PROGRESS"),
                    json!("REVIEW"),
                    e.clone(),
                    Value::Null
                ),
                (
                    json!("REVIEW"),
                    json!("CLOSED"),
                    m.clone(),
                    json!("accepted")
                ),
            ]
        );
        let times: Vec<&str> = detail["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["changedAt"].as_str().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
        assert_eq!(detail["commentCount"], 1);
        assert_eq!(detail["comments"][0]["author"]["username"], e);
        // Status-change comments live on the history only.
        assert_eq!(detail["comments"].as_array().unwrap().len(), 1);
        let row = defects::Entity::find()
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.version, 7);
        assert!(row.closed_at.is_some());
    }
}

#[tokio::test]
async fn engineers_are_limited_exactly_as_the_matrix_says() {
    for app in apps().await {
        let w = world(&app).await;
        let (mgr, eng, outsider) = (&w.cast.manager, &w.cast.engineer, &w.cast.outsider);
        // In their project, as author; no performer of their own choosing.
        let own = create(
            &app,
            eng,
            json!({ "projectId": w.project, "title": "Missing fire seal" }),
        )
        .await;
        assert_eq!(own["author"]["username"], eng.username.as_str());
        let own_id = own["id"].clone();
        let project: i32 = w.project.parse().unwrap();
        let others = json!({
            "id": gid(&DefectBuilder::new(project, mgr, mgr).title("Manager's").create(&app).await)
        });
        let performed = DefectBuilder::new(project, mgr, mgr)
            .title("Performed")
            .created_with_performer(eng.id)
            .status(DefectStatus::InProgress)
            .create(&app)
            .await;
        let performed = json!({ "id": gid(&performed) });
        let other_project = app.project(&w.cast.admin, "Elsewhere").await;

        let refusals: Vec<(&str, Value, &str)> = vec![
            (
                CREATE,
                json!({ "i": { "projectId": other_project.id.to_string(), "title": "x" } }),
                "NOT_FOUND",
            ),
            (
                CREATE,
                json!({ "i": { "projectId": w.project, "title": "x", "performerId": eng.gid() } }),
                "FORBIDDEN",
            ),
            (
                UPDATE,
                json!({ "id": others["id"], "i": { "title": "mine now" } }),
                "FORBIDDEN",
            ),
            (ASSIGN, json!({ "id": own_id, "p": eng.gid() }), "FORBIDDEN"),
            (DELETE, json!({ "id": own_id }), "FORBIDDEN"),
            (MOVE, json!({ "id": own_id, "s": "CANCELLED" }), "FORBIDDEN"),
            (
                MOVE,
                json!({ "id": own_id, "s": "CLOSED" }),
                "INVALID_TRANSITION",
            ),
            (
                MOVE,
                json!({ "id": performed["id"], "s": "CANCELLED" }),
                "FORBIDDEN",
            ),
        ];
        for (q, vars, code) in &refusals {
            let before = app.snapshot().await;
            let body = app.gql(Some(&eng.token), q, vars.clone()).await;
            assert_eq!(outcome(&body), *code, "[{}] {q} {vars}", app.backend);
            assert_eq!(app.snapshot().await, before);
        }
        // What they may do: edit their own (authored or performed), send to review, comment.
        app.ok(
            eng,
            UPDATE,
            json!({ "id": own_id, "i": { "description": "at grid B/4" } }),
        )
        .await;
        app.ok(
            eng,
            UPDATE,
            json!({ "id": performed["id"], "i": { "priority": "HIGH" } }),
        )
        .await;
        app.ok(
            eng,
            COMMENT,
            json!({ "id": others["id"], "b": "seen it too" }),
        )
        .await;
        let r = mv(&app, eng, &performed["id"], "REVIEW", None).await;
        assert_eq!(r["status"], "REVIEW");
        // Another engineer of the same project who does not perform it may not.
        let colleague = app.actor(Role::Engineer).await;
        app.add_member(w.project.parse().unwrap(), colleague.id)
            .await;
        let p2 = DefectBuilder::new(project, mgr, mgr)
            .title("P2")
            .created_with_performer(eng.id)
            .status(DefectStatus::InProgress)
            .create(&app)
            .await;
        let p2 = json!({ "id": gid(&p2) });
        assert_eq!(
            app.code(
                Some(&colleague.token),
                MOVE,
                json!({ "id": p2["id"], "s": "REVIEW" })
            )
            .await,
            "FORBIDDEN"
        );

        // An engineer outside the project sees nothing of it.
        let data = app.ok(outsider, DETAIL, json!({ "id": own_id })).await;
        assert!(data["defect"].is_null());
        let list = app.ok(outsider, COUNT, json!({})).await;
        assert_eq!(list["defects"]["totalCount"], 0);
        for (q, vars) in [
            (UPDATE, json!({ "id": own_id, "i": { "title": "x" } })),
            (COMMENT, json!({ "id": own_id, "b": "x" })),
            (MOVE, json!({ "id": own_id, "s": "CANCELLED" })),
        ] {
            let before = app.snapshot().await;
            assert_eq!(app.code(Some(&outsider.token), q, vars).await, "NOT_FOUND");
            assert_eq!(app.snapshot().await, before);
        }
        let list = app.ok(eng, COUNT, json!({})).await;
        assert_eq!(list["defects"]["totalCount"], 4);
    }
}

#[tokio::test]
async fn observers_read_everything_and_only_comment() {
    for app in apps().await {
        let w = world(&app).await;
        let obs = &w.cast.observer;
        let mgr = &w.cast.manager;
        let d = DefectBuilder::new(w.project.parse().unwrap(), mgr, mgr)
            .title("Leak")
            .created_with_performer(w.cast.engineer.id)
            .create(&app)
            .await;
        let id = gid(&d);
        for (q, vars) in [
            (
                CREATE,
                json!({ "i": { "projectId": w.project, "title": "x" } }),
            ),
            (UPDATE, json!({ "id": id, "i": { "title": "x" } })),
            (ASSIGN, json!({ "id": id, "p": null })),
            (DELETE, json!({ "id": id })),
            (MOVE, json!({ "id": id, "s": "IN_PROGRESS" })),
        ] {
            let before = app.snapshot().await;
            assert_eq!(
                app.code(Some(&obs.token), q, vars.clone()).await,
                "FORBIDDEN",
                "{q}"
            );
            assert_eq!(app.snapshot().await, before);
        }
        let detail = app.ok(obs, DETAIL, json!({ "id": id })).await;
        assert_eq!(detail["defect"]["allowedTransitions"], json!([]));
        let c = app
            .ok(
                obs,
                COMMENT,
                json!({ "id": id, "b": "  Please fix before handover  " }),
            )
            .await;
        assert_eq!(c["addComment"]["body"], "Please fix before handover");
        assert_eq!(
            app.code(Some(&obs.token), COMMENT, json!({ "id": id, "b": "   " }))
                .await,
            "BAD_USER_INPUT"
        );
        // Comments do not bump the version.
        let v = app.ok(obs, DETAIL, json!({ "id": id })).await["defect"]["version"].clone();
        assert_eq!(v, 1);
    }
}

#[tokio::test]
async fn managers_and_admins_do_everything_listed() {
    for app in apps().await {
        let w = world(&app).await;
        for actor in [&w.cast.manager, &w.cast.admin] {
            let d = create(&app, actor, json!({ "projectId": w.project, "stageId": w.stage, "title": "Rebar exposed", "deadline": "2030-01-31", "performerId": w.cast.engineer.gid() })).await;
            let id = d["id"].clone();
            let u = app.ok(actor, UPDATE, json!({ "id": id, "i": { "title": "Rebar exposed, column C2", "deadline": null, "stageId": null, "priority": "LOW" }, "v": 1 })).await;
            assert_eq!(u["updateDefect"]["deadline"], Value::Null);
            assert_eq!(u["updateDefect"]["stage"], Value::Null);
            assert_eq!(u["updateDefect"]["priority"], "LOW");
            assert_eq!(u["updateDefect"]["version"], 2);
            let a = app.ok(actor, ASSIGN, json!({ "id": id, "p": null })).await;
            assert!(a["assignDefect"]["performer"].is_null());
            mv(&app, actor, &id, "CANCELLED", Some("duplicate")).await;
            app.ok(
                actor,
                COMMENT,
                json!({ "id": id, "b": "closing as duplicate" }),
            )
            .await;
            let deleted = app.ok(actor, DELETE, json!({ "id": id })).await;
            assert_eq!(deleted["deleteDefect"], id);
            let rows = status_changes::Entity::find()
                .filter(
                    status_changes::Column::DefectId.eq(id
                        .as_str()
                        .unwrap()
                        .parse::<i32>()
                        .unwrap()),
                )
                .count(app.db())
                .await
                .unwrap();
            assert!(rows > 0, "a soft-deleted defect keeps its history");
        }
        // Soft delete keeps the rows (tests/api/soft_delete.rs covers restore and purge).
        assert_eq!(app.count("defects").await, 2);
        assert_eq!(app.count("comments").await, 2);
    }
}

#[tokio::test]
async fn the_rules_refuse_bad_input_and_change_nothing() {
    for app in apps().await {
        let w = world(&app).await;
        let mgr = &w.cast.manager;
        let inactive = app.actor(Role::Engineer).await;
        app.add_member(w.project.parse().unwrap(), inactive.id)
            .await;
        app.ok(&w.cast.admin, DEACTIVATE, json!({ "id": inactive.gid() }))
            .await;
        let observer_member = w.cast.observer.clone();
        app.add_member(w.project.parse().unwrap(), observer_member.id)
            .await;
        let other = app.project(&w.cast.admin, "Other").await;
        let foreign_stage = app.stage(other.id, "Elsewhere").await;
        let closed = app.project(&w.cast.admin, "Closed one").await;
        app.ok(mgr, CLOSE_PROJECT, json!({ "id": closed.id.to_string() }))
            .await;

        let base = json!({ "projectId": w.project, "title": "Defect" });
        let with = |k: &str, v: Value| {
            let mut i = base.clone();
            i[k] = v;
            json!({ "i": i })
        };
        let cases = [
            (
                with("performerId", json!(observer_member.gid())),
                "performerId",
            ),
            (with("performerId", json!(mgr.gid())), "performerId"),
            (
                with("performerId", json!(w.cast.outsider.gid())),
                "performerId",
            ),
            (with("performerId", json!(inactive.gid())), "performerId"),
            (with("performerId", json!("999999")), "performerId"),
            (
                with("stageId", json!(foreign_stage.id.to_string())),
                "stageId",
            ),
            (with("stageId", json!("abc")), "stageId"),
            (with("title", json!("   ")), "title"),
            (with("title", json!("x".repeat(301))), "title"),
            (with("projectId", json!(closed.id.to_string())), "projectId"),
        ];
        for (vars, field) in cases {
            let before = app.snapshot().await;
            let body = app.gql(Some(&mgr.token), CREATE, vars.clone()).await;
            assert_eq!(outcome(&body), "BAD_USER_INPUT", "[{}] {vars}", app.backend);
            let msg = body["errors"][0]["message"].as_str().unwrap();
            assert!(msg.starts_with(field), "{msg} names {field}");
            assert_eq!(app.snapshot().await, before);
        }
        // Work cannot start without a performer; a defect in progress keeps one.
        let d = DefectBuilder::new(w.project.parse().unwrap(), mgr, mgr)
            .create(&app)
            .await;
        let d = json!({ "id": gid(&d) });
        let before = app.snapshot().await;
        let body = app
            .gql(
                Some(&mgr.token),
                MOVE,
                json!({ "id": d["id"], "s": "IN_PROGRESS" }),
            )
            .await;
        assert_eq!(outcome(&body), "INVALID_TRANSITION");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("performer")
        );
        let body = app
            .gql(
                Some(&mgr.token),
                MOVE,
                json!({ "id": d["id"], "s": "CLOSED" }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["message"],
            "only a defect in review can be closed"
        );
        assert_eq!(app.snapshot().await, before);
        app.ok(
            mgr,
            ASSIGN,
            json!({ "id": d["id"], "p": w.cast.engineer.gid() }),
        )
        .await;
        mv(&app, mgr, &d["id"], "IN_PROGRESS", None).await;
        let before = app.snapshot().await;
        assert_eq!(
            app.code(
                Some(&mgr.token),
                ASSIGN,
                json!({ "id": d["id"], "p": null })
            )
            .await,
            "BAD_USER_INPUT"
        );
        assert_eq!(
            app.code(
                Some(&mgr.token),
                UPDATE,
                json!({ "id": d["id"], "i": { "stageId": foreign_stage.id.to_string() } })
            )
            .await,
            "BAD_USER_INPUT"
        );
        assert_eq!(
            app.code(
                Some(&mgr.token),
                UPDATE,
                json!({ "id": d["id"], "i": { "priority": null } })
            )
            .await,
            "BAD_USER_INPUT"
        );
        assert_eq!(
            app.code(
                Some(&mgr.token),
                MOVE,
                json!({ "id": "424242", "s": "REVIEW" })
            )
            .await,
            "NOT_FOUND"
        );
        assert_eq!(app.snapshot().await, before);
        // A project or stage that still has defects cannot be deleted.
        assert_eq!(
            app.code(Some(&mgr.token), DELETE_PROJECT, json!({ "id": w.project }))
                .await,
            "CONFLICT"
        );
    }
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict_and_changes_nothing() {
    for app in apps().await {
        let w = world(&app).await;
        let mgr = &w.cast.manager;
        let d = DefectBuilder::new(w.project.parse().unwrap(), mgr, mgr)
            .title("Gap")
            .created_with_performer(w.cast.engineer.id)
            .create(&app)
            .await;
        let d = json!({ "id": gid(&d) });
        app.ok(
            mgr,
            UPDATE,
            json!({ "id": d["id"], "i": { "title": "Gap at door" }, "v": 1 }),
        )
        .await;
        let before = app.snapshot().await;
        for (q, vars) in [
            (
                UPDATE,
                json!({ "id": d["id"], "i": { "title": "stale" }, "v": 1 }),
            ),
            (ASSIGN, json!({ "id": d["id"], "p": null, "v": 1 })),
            (MOVE, json!({ "id": d["id"], "s": "IN_PROGRESS", "v": 1 })),
        ] {
            assert_eq!(app.code(Some(&mgr.token), q, vars).await, "CONFLICT", "{q}");
        }
        assert_eq!(app.snapshot().await, before);
        // The current version works.
        assert_eq!(
            app.ok(
                mgr,
                MOVE,
                json!({ "id": d["id"], "s": "IN_PROGRESS", "v": 2 })
            )
            .await["changeDefectStatus"]["version"],
            3
        );
    }
}

#[tokio::test]
async fn of_two_concurrent_moves_on_one_version_exactly_one_wins() {
    for app in apps().await {
        let w = world(&app).await;
        let (mgr, admin) = (&w.cast.manager, &w.cast.admin);
        for round in 0..5 {
            let d = DefectBuilder::new(w.project.parse().unwrap(), mgr, mgr)
                .title(&format!("Race {round}"))
                .created_with_performer(w.cast.engineer.id)
                .create(&app)
                .await;
            let id = gid(&d);
            let (a, b) = tokio::join!(
                app.gql(
                    Some(&mgr.token),
                    MOVE,
                    json!({ "id": id, "s": "IN_PROGRESS", "v": 1 })
                ),
                app.gql(
                    Some(&admin.token),
                    MOVE,
                    json!({ "id": id, "s": "CANCELLED", "v": 1 })
                ),
            );
            let mut outcomes = [outcome(&a), outcome(&b)];
            outcomes.sort();
            assert_eq!(
                outcomes,
                ["CONFLICT".to_owned(), "OK".to_owned()],
                "[{}] {a} {b}",
                app.backend
            );
            let pk: i32 = id.as_str().unwrap().parse().unwrap();
            let history = status_changes::Entity::find()
                .filter(status_changes::Column::DefectId.eq(pk))
                .order_by_asc(status_changes::Column::Id)
                .all(app.db())
                .await
                .unwrap();
            assert_eq!(history.len(), 2, "creation plus exactly one move");
            let row = defects::Entity::find_by_id(pk)
                .one(app.db())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.version, 2);
            assert_eq!(Some(row.status), history.last().map(|h| h.to_status));
        }
    }
}

#[tokio::test]
async fn a_page_costs_the_same_statements_at_10_and_100_rows() {
    for app in apps().await {
        let w = world(&app).await;
        let mgr = &w.cast.manager;
        let pid: i32 = w.project.parse().unwrap();
        let stage: i32 = w.stage.parse().unwrap();
        for i in 0..100 {
            let mut d = DefectBuilder::new(pid, mgr, mgr)
                .stage((i % 2 == 0).then_some(stage))
                .title(&format!("Defect {i}"));
            if i % 3 == 0 {
                d = d.created_with_performer(w.cast.engineer.id);
            }
            let d = d.create(&app).await;
            defect_control::domain::defects::comments::add(
                app.db(),
                &w.cast.observer.viewer(),
                d.id,
                "noted",
            )
            .await
            .unwrap();
        }
        let q = r"
            query($n: Int) {
              defects(first: $n) {
                totalCount
                nodes {
                  id title isOverdue allowedTransitions commentCount
                  project { title members { username } stages { title } }
                  stage { title project { title } }
                  performer { username }
                  author { username }
                  comments { body author { username } }
                  history { toStatus changedBy { username } }
                  attachments { filename uploadedBy { username } }
                }
              }
            }
        ";
        let mut counts = Vec::new();
        for n in [10, 100] {
            let before = app.statements.load(Ordering::SeqCst);
            let data = app.ok(mgr, q, json!({ "n": n })).await;
            counts.push(app.statements.load(Ordering::SeqCst) - before);
            assert_eq!(data["defects"]["nodes"].as_array().unwrap().len(), n);
            assert_eq!(data["defects"]["nodes"][0]["commentCount"], 1);
        }
        assert_eq!(
            counts[0], counts[1],
            "[{}] statements per page: {counts:?}",
            app.backend
        );
        assert!(counts[0] <= 15, "a small constant: {counts:?}");
    }
}
