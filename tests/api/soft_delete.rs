//! Soft delete: `deleteDefect` marks and keeps everything; deleted defects vanish from
//! every reader; managers list and restore them; admins purge them with their files.
use defect_control::entities::{comments, defect_events, defects, enums::Role, status_changes};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::{
    defects::{create, world},
    files::{png, upload_request},
    helpers::{Actor, TestApp, apps_with, outcome},
};

const DELETE: &str = "mutation($id: ID!) { deleteDefect(id: $id) }";
const RESTORE: &str = "mutation($id: ID!) { restoreDefect(id: $id) { id deletedAt version comments { body } history { toStatus } attachments { id } } }";
const PURGE: &str = "mutation($id: ID!) { purgeDefect(id: $id) }";
const DELETED: &str = "query($p: ID, $first: Int, $after: String) { deletedDefects(projectId: $p, first: $first, after: $after) { totalCount nodes { id deletedAt } pageInfo { hasNextPage endCursor } } }";

async fn apps() -> Vec<TestApp> {
    apps_with(|c| c.storage_url = "memory://".into()).await
}

fn int(id: &Value) -> i32 {
    id.as_str().unwrap().parse().unwrap()
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

async fn objects(app: &TestApp) -> usize {
    app.state.storage.list("").await.expect("list").len()
}

/// The ids every live reader returns for `viewer`: list, search, `defect(id)`, export.
async fn seen(
    app: &TestApp,
    viewer: &Actor,
    id: &Value,
) -> (Vec<Value>, Vec<Value>, Value, Vec<i32>) {
    let list = app
        .ok(
            viewer,
            "{ defects(first: 100) { totalCount nodes { id } } }",
            json!({}),
        )
        .await;
    let nodes: Vec<Value> = list["defects"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    assert_eq!(list["defects"]["totalCount"], nodes.len());
    let found = app
        .ok(
            viewer,
            "{ defects(filter: { search: \"balcony\" }) { nodes { id } } }",
            json!({}),
        )
        .await["defects"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    let one = app
        .ok(
            viewer,
            "query($id: ID!) { defect(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await["defect"]
        .clone();
    // The export is for managers and admins; the others' view is the empty list.
    let export = if viewer.role.is_manager() {
        crate::export::fetch(app, Some(&viewer.token), &[])
            .await
            .ids()
    } else {
        Vec::new()
    };
    (nodes, found, one, export)
}

async fn report_total(app: &TestApp, viewer: &Actor) -> (Value, Value) {
    let r = app
        .ok(
            viewer,
            "{ reports { summary { total } byProject { total } } }",
            json!({}),
        )
        .await;
    (
        r["reports"]["summary"]["total"].clone(),
        r["reports"]["byProject"][0]["total"].clone(),
    )
}

#[tokio::test]
async fn a_deleted_defect_vanishes_everywhere_and_comes_back_whole() {
    for app in apps().await {
        let w = world(&app).await;
        let (mgr, eng) = (&w.cast.manager, &w.cast.engineer);
        let d = create(&app, mgr, json!({ "projectId": w.project, "stageId": w.stage, "title": "Cracked balcony slab", "performerId": eng.gid() })).await;
        let keep = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "title": "Loose balcony rail" }),
        )
        .await;
        let id = d["id"].clone();
        app.ok(
            eng,
            "mutation($id: ID!) { addComment(defectId: $id, body: \"photo attached\") { id } }",
            json!({ "id": id }),
        )
        .await;
        let file = upload(&app, eng, &id).await["data"]["uploadAttachment"]["id"].clone();
        assert!(file.is_string());
        assert_eq!(seen(&app, mgr, &id).await.0.len(), 2);
        assert_eq!(report_total(&app, mgr).await, (json!(2), json!(2)));

        assert_eq!(
            app.ok(mgr, DELETE, json!({ "id": id })).await["deleteDefect"],
            id
        );
        // Nothing is removed: the row is marked, its comments, history and files stay.
        let row = defects::Entity::find_by_id(int(&id))
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        assert!(row.deleted_at.is_some());
        assert_eq!(app.count("comments").await, 1);
        assert_eq!(app.count("attachments").await, 1);
        assert!(objects(&app).await > 0);

        for viewer in [&w.cast.admin, mgr, eng, &w.cast.observer] {
            let (list, found, one, export) = seen(&app, viewer, &id).await;
            assert_eq!(list, vec![keep["id"].clone()], "{}", viewer.username);
            assert_eq!(found, vec![keep["id"].clone()], "search");
            assert!(one.is_null(), "defect(id) of a deleted defect is null");
            if viewer.role.is_manager() {
                assert_eq!(export, vec![int(&keep["id"])], "export");
            }
            if viewer.role != Role::Engineer {
                assert_eq!(
                    report_total(&app, viewer).await,
                    (json!(1), json!(1)),
                    "reports"
                );
            }
        }

        // Every write on a deleted defect is NOT_FOUND and changes nothing.
        let before = app.snapshot().await;
        let t = Some(mgr.token.as_str());
        for (q, vars) in [
            (
                "mutation($id: ID!) { updateDefect(id: $id, input: { title: \"x\" }) { id } }",
                json!({ "id": id }),
            ),
            (
                "mutation($id: ID!) { assignDefect(id: $id, performerId: null) { id } }",
                json!({ "id": id }),
            ),
            (
                "mutation($id: ID!) { changeDefectStatus(id: $id, status: IN_PROGRESS) { id } }",
                json!({ "id": id }),
            ),
            (
                "mutation($id: ID!) { addComment(defectId: $id, body: \"late\") { id } }",
                json!({ "id": id }),
            ),
            (
                "mutation($id: ID!) { deleteAttachment(id: $id) }",
                json!({ "id": file }),
            ),
            (DELETE, json!({ "id": id })),
        ] {
            assert_eq!(app.code(t, q, vars).await, "NOT_FOUND", "{q}");
        }
        assert_eq!(outcome(&upload(&app, mgr, &id).await), "NOT_FOUND");
        assert_eq!(app.snapshot().await, before);
        assert_eq!(app.count("attachments").await, 1);

        // Only managers and admins see and restore deleted defects.
        for viewer in [eng, &w.cast.observer] {
            assert_eq!(
                app.code(Some(&viewer.token), DELETED, json!({})).await,
                "FORBIDDEN"
            );
            assert_eq!(
                app.code(Some(&viewer.token), RESTORE, json!({ "id": id }))
                    .await,
                "FORBIDDEN"
            );
        }
        assert_eq!(app.snapshot().await, before);
        for viewer in [mgr, &w.cast.admin] {
            let listed = app.ok(viewer, DELETED, json!({ "p": w.project })).await;
            assert_eq!(listed["deletedDefects"]["totalCount"], 1);
            assert_eq!(listed["deletedDefects"]["nodes"][0]["id"], id);
            assert!(listed["deletedDefects"]["nodes"][0]["deletedAt"].is_string());
        }
        let back = app.ok(mgr, RESTORE, json!({ "id": id })).await["restoreDefect"].clone();
        assert!(back["deletedAt"].is_null());
        assert_eq!(back["comments"][0]["body"], "photo attached");
        assert_eq!(back["attachments"][0]["id"], file);
        assert_eq!(back["history"].as_array().unwrap().len(), 1);
        assert_eq!(seen(&app, eng, &id).await.0.len(), 2);
        assert_eq!(report_total(&app, mgr).await, (json!(2), json!(2)));
        let none = app.ok(mgr, DELETED, json!({})).await;
        assert_eq!(none["deletedDefects"]["totalCount"], 0);
        // Restoring a live defect: there is no deleted defect by that id.
        assert_eq!(
            app.code(Some(&mgr.token), RESTORE, json!({ "id": id }))
                .await,
            "NOT_FOUND"
        );
    }
}

#[tokio::test]
async fn only_admins_purge_and_only_deleted_defects() {
    for app in apps().await {
        let w = world(&app).await;
        let (mgr, admin) = (&w.cast.manager, &w.cast.admin);
        let d = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "title": "Wet screed" }),
        )
        .await;
        let other = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "title": "Dry screed" }),
        )
        .await;
        let id = d["id"].clone();
        app.ok(
            mgr,
            "mutation($id: ID!) { addComment(defectId: $id, body: \"see photo\") { id } }",
            json!({ "id": id }),
        )
        .await;
        upload(&app, mgr, &id).await;
        upload(&app, mgr, &other["id"]).await;
        let files_before = objects(&app).await;
        assert!(files_before >= 2);

        // A live defect is not purged.
        assert_eq!(
            app.code(Some(&admin.token), PURGE, json!({ "id": id }))
                .await,
            "NOT_FOUND"
        );
        app.ok(mgr, DELETE, json!({ "id": id })).await;
        let before = app.snapshot().await;
        for viewer in [mgr, &w.cast.engineer, &w.cast.observer] {
            assert_eq!(
                app.code(Some(&viewer.token), PURGE, json!({ "id": id }))
                    .await,
                "FORBIDDEN",
                "{}",
                viewer.username
            );
        }
        assert_eq!(app.snapshot().await, before);
        assert_eq!(objects(&app).await, files_before);

        assert_eq!(
            app.ok(admin, PURGE, json!({ "id": id })).await["purgeDefect"],
            id
        );
        let gone = int(&id);
        assert!(
            defects::Entity::find_by_id(gone)
                .one(app.db())
                .await
                .unwrap()
                .is_none()
        );
        let left = |n: u64| n == 0;
        assert!(left(
            comments::Entity::find()
                .filter(comments::Column::DefectId.eq(gone))
                .count(app.db())
                .await
                .unwrap()
        ));
        assert!(left(
            status_changes::Entity::find()
                .filter(status_changes::Column::DefectId.eq(gone))
                .count(app.db())
                .await
                .unwrap()
        ));
        assert!(
            left(
                defect_events::Entity::find()
                    .filter(defect_events::Column::DefectId.eq(gone))
                    .count(app.db())
                    .await
                    .unwrap()
            ),
            "purge is the one operation that removes journal rows"
        );
        let kept = defect_events::Entity::find()
            .filter(defect_events::Column::DefectId.eq(int(&other["id"])))
            .count(app.db())
            .await
            .unwrap();
        assert_eq!(
            kept, 2,
            "the other defect's journal stays (CREATED, ATTACHMENT_ADDED)"
        );
        assert_eq!(
            app.count("attachments").await,
            1,
            "the other defect's file stays"
        );
        assert!(
            objects(&app).await < files_before,
            "the purged defect's objects are removed"
        );
        assert!(objects(&app).await > 0);
        assert_eq!(
            app.code(Some(&admin.token), PURGE, json!({ "id": id }))
                .await,
            "NOT_FOUND"
        );
        assert_eq!(
            app.code(Some(&admin.token), RESTORE, json!({ "id": id }))
                .await,
            "NOT_FOUND"
        );
    }
}

#[tokio::test]
async fn deleted_defects_pages_by_relay_rules_and_stays_in_visible_projects() {
    for app in apps().await {
        let w = world(&app).await;
        let mgr = &w.cast.manager;
        let mut ids = Vec::new();
        for i in 0..3 {
            let d = create(
                &app,
                mgr,
                json!({ "projectId": w.project, "title": format!("Gap {i}") }),
            )
            .await;
            app.ok(mgr, DELETE, json!({ "id": d["id"] })).await;
            ids.push(d["id"].clone());
        }
        let p1 = app.ok(mgr, DELETED, json!({ "first": 2 })).await["deletedDefects"].clone();
        assert_eq!(p1["totalCount"], 3);
        assert_eq!(
            p1["nodes"],
            json!([{ "id": ids[2], "deletedAt": p1["nodes"][0]["deletedAt"] }, { "id": ids[1], "deletedAt": p1["nodes"][1]["deletedAt"] }])
        );
        assert_eq!(p1["pageInfo"]["hasNextPage"], true);
        let p2 = app
            .ok(
                mgr,
                DELETED,
                json!({ "first": 2, "after": p1["pageInfo"]["endCursor"] }),
            )
            .await["deletedDefects"]
            .clone();
        assert_eq!(p2["nodes"][0]["id"], ids[0]);
        assert_eq!(p2["pageInfo"]["hasNextPage"], false);
        assert_eq!(
            app.code(Some(&mgr.token), DELETED, json!({ "first": 101 }))
                .await,
            "BAD_USER_INPUT"
        );
        // Another project's filter finds none of them.
        let elsewhere = app.project(&w.cast.admin, "Annex").await;
        let none = app
            .ok(mgr, DELETED, json!({ "p": elsewhere.id.to_string() }))
            .await;
        assert_eq!(none["deletedDefects"]["totalCount"], 0);
    }
}

/// Issue 19: a comment could commit after its defect's soft delete (the comment read the
/// defect as live, the delete committed, the comment followed: 3 of 5 races). The race is
/// forced: a transaction of the test soft-deletes the defect and holds its commit while
/// `addComment` runs; once the comment waits on the defect (PostgreSQL: a lock wait seen in
/// `pg_locks`; SQLite: SQLite's one write lock, held by the test), the delete commits.
/// The comment must come back NOT_FOUND and leave neither a comment nor an event.
#[tokio::test]
async fn a_comment_racing_a_soft_delete_does_not_land_on_the_deleted_defect() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait, sea_query::Expr};
    for app in apps().await {
        let w = world(&app).await;
        let mgr = &w.cast.manager;
        let d = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "title": "Wet screed" }),
        )
        .await;
        let id = int(&d["id"]);
        let postgres = app.db().get_database_backend() == DbBackend::Postgres;
        let hold = app.db().begin().await.unwrap();
        defects::Entity::update_many()
            .col_expr(
                defects::Column::DeletedAt,
                Expr::value(Some(chrono::Utc::now())),
            )
            .filter(defects::Column::Id.eq(id))
            .exec(&hold)
            .await
            .unwrap();
        let release = async {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
            if postgres {
                // Without the fix nothing ever waits: the comment commits at once and the
                // loop runs out its time, then the assertions below fail.
                let waiting = "SELECT count(*) AS n FROM pg_locks WHERE NOT granted";
                while std::time::Instant::now() < deadline {
                    let row = app
                        .db()
                        .query_one_raw(Statement::from_string(DbBackend::Postgres, waiting))
                        .await
                        .unwrap()
                        .unwrap();
                    if row.try_get::<i64>("", "n").unwrap() > 0 {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            } else {
                // The comment reads the defect (live: the delete is not committed) and
                // waits at its INSERT for the write lock, well inside the busy timeout.
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            hold.commit().await.unwrap();
        };
        let comment = app.gql(
            Some(&mgr.token),
            "mutation($id: ID!) { addComment(defectId: $id, body: \"too late\") { id } }",
            json!({ "id": d["id"] }),
        );
        let (body, ()) = tokio::join!(comment, release);
        assert_eq!(outcome(&body), "NOT_FOUND", "[{}] {body}", app.backend);
        let comments = comments::Entity::find()
            .filter(comments::Column::DefectId.eq(id))
            .count(app.db())
            .await
            .unwrap();
        assert_eq!(
            comments, 0,
            "[{}] no comment on a deleted defect",
            app.backend
        );
        let events = defect_events::Entity::find()
            .filter(defect_events::Column::DefectId.eq(id))
            .filter(
                defect_events::Column::Kind
                    .eq(defect_control::entities::enums::DefectEventKind::Commented),
            )
            .count(app.db())
            .await
            .unwrap();
        assert_eq!(events, 0, "[{}] no event either", app.backend);
    }
}

#[tokio::test]
async fn deleted_defects_keep_their_project_and_stage_until_purged() {
    const DELETE_PROJECT: &str = "mutation($id: ID!) { deleteProject(id: $id) }";
    const DELETE_STAGE: &str = "mutation($id: ID!) { deleteStage(id: $id) }";
    for app in apps().await {
        let w = world(&app).await;
        let (mgr, admin) = (&w.cast.manager, &w.cast.admin);
        let staged = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "stageId": w.stage, "title": "Wet screed" }),
        )
        .await["id"]
            .clone();
        let loose = create(
            &app,
            mgr,
            json!({ "projectId": w.project, "title": "Dry screed" }),
        )
        .await["id"]
            .clone();
        app.ok(mgr, DELETE, json!({ "id": staged })).await;
        // (Accept-Language, mutation, id, message) refused with CONFLICT.
        let refused =
            |lang: Option<&'static str>, q: &'static str, id: &str, want: &'static str| {
                let (app, admin, id) = (&app, admin, id.to_owned());
                async move {
                    let body =
                        crate::languages::gql_in(app, lang, admin, q, json!({ "id": id })).await;
                    let e = &body["errors"][0];
                    assert_eq!(e["extensions"]["code"], "CONFLICT", "{q} {lang:?}: {body}");
                    assert_eq!(e["message"], want, "[{}] {q} {lang:?}", app.backend);
                }
            };
        let before = app.snapshot().await;
        // A live defect left: delete or move it; the stage's only one is in the trash.
        refused(
            None,
            DELETE_PROJECT,
            &w.project,
            "the project still has 1 defect(s); delete or move them first",
        )
        .await;
        refused(
            None,
            DELETE_STAGE,
            &w.stage,
            "the stage's 1 remaining defect(s) are deleted but kept in the trash; restore them or have an admin purge them (deletedDefects, purgeDefect)",
        )
        .await;
        refused(
            Some("ru"),
            DELETE_STAGE,
            &w.stage,
            "на этапе остались только удалённые дефекты (1), они лежат в корзине; восстановите их или попросите администратора удалить их окончательно (deletedDefects, purgeDefect)",
        )
        .await;
        assert_eq!(app.snapshot().await, before, "refusals changed nothing");
        app.ok(mgr, DELETE, json!({ "id": loose })).await;
        let before_trash = app.snapshot().await;
        refused(
            None,
            DELETE_PROJECT,
            &w.project,
            "the project's 2 remaining defect(s) are deleted but kept in the trash; restore them or have an admin purge them (deletedDefects, purgeDefect)",
        )
        .await;
        refused(
            Some("ru"),
            DELETE_PROJECT,
            &w.project,
            "в проекте остались только удалённые дефекты (2), они лежат в корзине; восстановите их или попросите администратора удалить их окончательно (deletedDefects, purgeDefect)",
        )
        .await;
        assert_eq!(
            app.snapshot().await,
            before_trash,
            "refusals changed nothing"
        );

        // Purged, they hold nothing back.
        app.ok(admin, PURGE, json!({ "id": staged })).await;
        assert_eq!(
            app.ok(admin, DELETE_STAGE, json!({ "id": w.stage })).await["deleteStage"],
            w.stage
        );
        refused(
            None,
            DELETE_PROJECT,
            &w.project,
            "the project's 1 remaining defect(s) are deleted but kept in the trash; restore them or have an admin purge them (deletedDefects, purgeDefect)",
        )
        .await;
        app.ok(admin, PURGE, json!({ "id": loose })).await;
        assert_eq!(
            app.ok(admin, DELETE_PROJECT, json!({ "id": w.project }))
                .await["deleteProject"],
            w.project
        );
    }
}
