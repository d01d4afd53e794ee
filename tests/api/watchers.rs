//! Defect watchers (NOTIFY.md, "Watchers"): who is added automatically and who is not,
//! the sticky unwatch, `watchDefect` / `unwatchDefect`, and what `watchers` lists.
use std::sync::atomic::Ordering;

use defect_control::{
    domain::defects::{comments, service as defect_service},
    entities::{
        defect_watchers, defects,
        enums::{DefectStatus, Role},
    },
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::{
    builders::{DefectBuilder, ProjectBuilder, deactivate},
    helpers::{Actor, TestApp, apps},
};

const WATCH: &str = r"
    mutation($id: ID!) { watchDefect(id: $id) { id version watching watchers { id } } }
";
const UNWATCH: &str = r"
    mutation($id: ID!) { unwatchDefect(id: $id) { id version watching watchers { id } } }
";
const DEFECT: &str = r"
    query($id: ID!) { defect(id: $id) { id watching watchers { id username } } }
";

/// The defect's rows of `defect_watchers`: (user, watching), by user.
async fn rows(app: &TestApp, defect: i32) -> Vec<(i32, bool)> {
    defect_watchers::Entity::find()
        .filter(defect_watchers::Column::DefectId.eq(defect))
        .order_by_asc(defect_watchers::Column::UserId)
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|w| (w.user_id, w.watching))
        .collect()
}

/// Watching rows, as the notification consumer reads them: `WHERE watching`.
async fn watching(app: &TestApp, defect: i32) -> Vec<i32> {
    let mut ids: Vec<i32> = rows(app, defect)
        .await
        .into_iter()
        .filter(|(_, w)| *w)
        .map(|(u, _)| u)
        .collect();
    ids.sort_unstable();
    ids
}

fn sorted(ids: &[i32]) -> Vec<i32> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids
}

/// `defect(id) { watching watchers }` as `who` sees it: (watching, watcher ids).
async fn seen(app: &TestApp, who: &Actor, defect: i32) -> (bool, Vec<i32>) {
    let data = app
        .ok(who, DEFECT, json!({ "id": defect.to_string() }))
        .await;
    let d = &data["defect"];
    (d["watching"].as_bool().unwrap(), user_ids(&d["watchers"]))
}

fn user_ids(list: &Value) -> Vec<i32> {
    let mut ids: Vec<i32> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|u| u["id"].as_str().unwrap().parse().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

async fn assign(app: &TestApp, by: &Actor, defect: i32, performer: i32) {
    let q = "mutation($id: ID!, $p: ID) { assignDefect(id: $id, performerId: $p) { id } }";
    app.ok(
        by,
        q,
        json!({ "id": defect.to_string(), "p": performer.to_string() }),
    )
    .await;
}

async fn move_to(app: &TestApp, by: &Actor, defect: i32, to: &str) {
    let q =
        "mutation($id: ID!, $s: DefectStatus!) { changeDefectStatus(id: $id, status: $s) { id } }";
    app.ok(by, q, json!({ "id": defect.to_string(), "s": to }))
        .await;
}

async fn comment(app: &TestApp, by: &Actor, defect: i32) {
    let q = "mutation($d: ID!) { addComment(defectId: $d, body: \"seen\") { id } }";
    app.ok(by, q, json!({ "d": defect.to_string() })).await;
}

#[tokio::test]
async fn the_author_the_performer_commenters_and_movers_watch_and_no_one_else() {
    for app in apps().await {
        let cast = app.cast().await;
        let (mgr, eng) = (&cast.manager, &cast.engineer);
        let other_mgr = app.actor(Role::Manager).await;
        let commenter = app.actor(Role::Engineer).await;
        let p = ProjectBuilder::new(&cast.admin, "Tower")
            .member(eng.id)
            .member(commenter.id)
            .create(&app)
            .await;
        let d = DefectBuilder::new(p.id, mgr, mgr).create(&app).await;
        assert_eq!(
            rows(&app, d.id).await,
            vec![(mgr.id, true)],
            "[{}] author",
            app.backend
        );

        // Reading, editing and watching lists make no one a watcher.
        assert_eq!(seen(&app, &cast.admin, d.id).await, (false, vec![mgr.id]));
        let edit =
            "mutation($id: ID!) { updateDefect(id: $id, input: { title: \"Crack\" }) { version } }";
        let edited = app
            .ok(&other_mgr, edit, json!({ "id": d.id.to_string() }))
            .await;
        assert_eq!(edited["updateDefect"]["version"], 2, "[{}]", app.backend);
        assert_eq!(
            watching(&app, d.id).await,
            vec![mgr.id],
            "[{}] an edit",
            app.backend
        );

        assign(&app, &other_mgr, d.id, eng.id).await;
        assert_eq!(
            watching(&app, d.id).await,
            sorted(&[mgr.id, eng.id]),
            "[{}] the performer, not the manager who assigned",
            app.backend
        );

        move_to(&app, &cast.admin, d.id, "IN_PROGRESS").await;
        assert_eq!(
            watching(&app, d.id).await,
            sorted(&[mgr.id, eng.id, cast.admin.id]),
            "[{}] whoever moves the status",
            app.backend
        );

        comment(&app, &commenter, d.id).await;
        let all = sorted(&[mgr.id, eng.id, cast.admin.id, commenter.id]);
        assert_eq!(
            watching(&app, d.id).await,
            all,
            "[{}] commenter",
            app.backend
        );
        assert_eq!(rows(&app, d.id).await.len(), 4, "[{}]", app.backend);

        // Every row is `watching`, and the API shows the same set to anyone.
        assert_eq!(seen(&app, &cast.observer, d.id).await, (false, all.clone()));
        assert_eq!(seen(&app, &commenter, d.id).await, (true, all.clone()));
        assert_eq!(seen(&app, &other_mgr, d.id).await, (false, all));
    }
}

#[tokio::test]
async fn a_performer_given_at_creation_watches_and_so_does_each_new_performer() {
    for app in apps().await {
        let cast = app.cast().await;
        let (mgr, eng) = (&cast.manager, &cast.engineer);
        let second = app.actor(Role::Engineer).await;
        let p = ProjectBuilder::new(&cast.admin, "Tower")
            .member(eng.id)
            .member(second.id)
            .create(&app)
            .await;
        let d = DefectBuilder::new(p.id, mgr, mgr)
            .created_with_performer(eng.id)
            .create(&app)
            .await;
        assert_eq!(d.version, 1, "[{}] no separate assignment", app.backend);
        assert_eq!(watching(&app, d.id).await, sorted(&[mgr.id, eng.id]));

        // Through the API too.
        let create = r#"mutation($p: ID!, $e: ID!) {
            createDefect(input: { projectId: $p, title: "Gap", performerId: $e }) { id watching watchers { id } }
        }"#;
        let created = app
            .ok(
                mgr,
                create,
                json!({ "p": p.id.to_string(), "e": second.id.to_string() }),
            )
            .await;
        let c = &created["createDefect"];
        assert_eq!(c["watching"], true, "[{}] {c}", app.backend);
        assert_eq!(user_ids(&c["watchers"]), sorted(&[mgr.id, second.id]));

        // Reassigning adds the new performer; the former one keeps watching.
        assign(&app, mgr, d.id, second.id).await;
        assert_eq!(
            watching(&app, d.id).await,
            sorted(&[mgr.id, eng.id, second.id]),
            "[{}]",
            app.backend
        );
    }
}

#[tokio::test]
async fn an_unwatch_sticks_through_comments_moves_and_assignments_until_watch() {
    for app in apps().await {
        let cast = app.cast().await;
        let (mgr, eng) = (&cast.manager, &cast.engineer);
        let second = app.actor(Role::Engineer).await;
        let p = ProjectBuilder::new(&cast.admin, "Tower")
            .member(eng.id)
            .member(second.id)
            .create(&app)
            .await;
        let d = DefectBuilder::new(p.id, mgr, mgr)
            .performer(Some(eng.id))
            .status(DefectStatus::InProgress)
            .create(&app)
            .await;
        let id = json!({ "id": d.id.to_string() });
        let out = app.ok(eng, UNWATCH, id.clone()).await;
        assert_eq!(out["unwatchDefect"]["watching"], false, "[{}]", app.backend);
        assert_eq!(user_ids(&out["unwatchDefect"]["watchers"]), vec![mgr.id]);

        comment(&app, eng, d.id).await;
        move_to(&app, eng, d.id, "REVIEW").await;
        // Away and back: the assignment rule does not undo the unwatch either.
        assign(&app, mgr, d.id, second.id).await;
        assign(&app, mgr, d.id, eng.id).await;
        assert_eq!(
            rows(&app, d.id).await,
            {
                let mut r = vec![(mgr.id, true), (eng.id, false), (second.id, true)];
                r.sort_unstable();
                r
            },
            "[{}] still unwatched",
            app.backend
        );
        assert_eq!(
            seen(&app, eng, d.id).await,
            (false, sorted(&[mgr.id, second.id]))
        );

        let out = app.ok(eng, WATCH, id).await;
        assert_eq!(out["watchDefect"]["watching"], true, "[{}]", app.backend);
        assert_eq!(
            user_ids(&out["watchDefect"]["watchers"]),
            sorted(&[mgr.id, eng.id, second.id])
        );
        assert_eq!(
            watching(&app, d.id).await,
            sorted(&[mgr.id, eng.id, second.id])
        );
    }
}

#[tokio::test]
async fn watching_and_unwatching_are_idempotent_and_change_nothing_else() {
    for app in apps().await {
        let cast = app.cast().await;
        let mgr = &cast.manager;
        let p = ProjectBuilder::new(&cast.admin, "Tower").create(&app).await;
        let d = DefectBuilder::new(p.id, mgr, mgr).create(&app).await;
        let id = json!({ "id": d.id.to_string() });
        let events = app.count("defect_events").await;
        let fresh = || async {
            defects::Entity::find_by_id(d.id)
                .one(app.db())
                .await
                .unwrap()
                .unwrap()
        };
        let before = fresh().await;
        for _ in 0..2 {
            let out = app.ok(&cast.admin, WATCH, id.clone()).await;
            assert_eq!(
                out["watchDefect"]["version"], d.version,
                "[{}]",
                app.backend
            );
            assert_eq!(out["watchDefect"]["watching"], true, "[{}]", app.backend);
            assert_eq!(
                rows(&app, d.id).await,
                sorted_rows(&[(mgr.id, true), (cast.admin.id, true)])
            );
        }
        for _ in 0..2 {
            let out = app.ok(&cast.admin, UNWATCH, id.clone()).await;
            assert_eq!(out["unwatchDefect"]["watching"], false, "[{}]", app.backend);
            assert_eq!(
                rows(&app, d.id).await,
                sorted_rows(&[(mgr.id, true), (cast.admin.id, false)])
            );
        }
        // The author unwatches too: a row that existed is turned off, not duplicated.
        app.ok(mgr, UNWATCH, id.clone()).await;
        assert_eq!(
            watching(&app, d.id).await,
            Vec::<i32>::new(),
            "[{}]",
            app.backend
        );
        assert_eq!(
            fresh().await,
            before,
            "[{}] the defect is untouched",
            app.backend
        );
        assert_eq!(
            app.count("defect_events").await,
            events,
            "[{}] no event",
            app.backend
        );
    }
}

fn sorted_rows(rows: &[(i32, bool)]) -> Vec<(i32, bool)> {
    let mut rows = rows.to_vec();
    rows.sort_unstable();
    rows
}

#[tokio::test]
async fn only_who_can_see_the_defect_may_watch_observers_included() {
    for app in apps().await {
        let cast = app.cast().await;
        let mgr = &cast.manager;
        let p = ProjectBuilder::new(&cast.admin, "Tower")
            .member(cast.engineer.id)
            .create(&app)
            .await;
        let d = DefectBuilder::new(p.id, mgr, mgr).create(&app).await;
        let id = json!({ "id": d.id.to_string() });
        let before = app.snapshot().await;
        for q in [WATCH, UNWATCH] {
            let code = app.code(Some(&cast.outsider.token), q, id.clone()).await;
            assert_eq!(code, "NOT_FOUND", "[{}] outsider", app.backend);
            let code = app
                .code(Some(&cast.admin.token), q, json!({ "id": "999999" }))
                .await;
            assert_eq!(code, "NOT_FOUND", "[{}] no such defect", app.backend);
            let code = app.code(None, q, id.clone()).await;
            assert_eq!(code, "UNAUTHENTICATED", "[{}] anonymous", app.backend);
        }
        // A soft-deleted defect is not there to watch.
        let gone = DefectBuilder::new(p.id, mgr, mgr).create(&app).await;
        let deleted =
            defect_control::domain::defects::trash::delete(app.db(), &mgr.viewer(), gone.id).await;
        assert!(deleted.is_ok(), "[{}]", app.backend);
        let after_delete = app.snapshot().await;
        let code = app
            .code(
                Some(&mgr.token),
                WATCH,
                json!({ "id": gone.id.to_string() }),
            )
            .await;
        assert_eq!(code, "NOT_FOUND", "[{}] deleted", app.backend);
        assert_eq!(app.snapshot().await, after_delete, "[{}]", app.backend);
        assert_ne!(before, after_delete);

        let out = app.ok(&cast.observer, WATCH, id.clone()).await;
        assert_eq!(out["watchDefect"]["watching"], true, "[{}]", app.backend);
        assert_eq!(
            watching(&app, d.id).await,
            sorted(&[mgr.id, cast.observer.id])
        );
        let out = app.ok(&cast.engineer, WATCH, id).await;
        assert_eq!(
            user_ids(&out["watchDefect"]["watchers"]),
            sorted(&[mgr.id, cast.engineer.id, cast.observer.id]),
            "[{}]",
            app.backend
        );
    }
}

#[tokio::test]
async fn watchers_lists_only_active_users_who_can_still_see_the_defect() {
    for app in apps().await {
        let cast = app.cast().await;
        let (mgr, eng) = (&cast.manager, &cast.engineer);
        let leaving = app.actor(Role::Engineer).await;
        let p = ProjectBuilder::new(&cast.admin, "Tower")
            .member(eng.id)
            .member(leaving.id)
            .create(&app)
            .await;
        let d = DefectBuilder::new(p.id, mgr, mgr).create(&app).await;
        comment(&app, eng, d.id).await;
        comment(&app, &leaving, d.id).await;
        comment(&app, &cast.observer, d.id).await;
        let all = sorted(&[mgr.id, eng.id, leaving.id, cast.observer.id]);
        assert_eq!(
            seen(&app, &cast.admin, d.id).await.1,
            all,
            "[{}]",
            app.backend
        );

        let remove =
            "mutation($p: ID!, $u: ID!) { removeProjectMember(projectId: $p, userId: $u) { id } }";
        app.ok(
            &cast.admin,
            remove,
            json!({ "p": p.id.to_string(), "u": leaving.id.to_string() }),
        )
        .await;
        deactivate(&app, cast.observer.id).await;
        assert_eq!(
            seen(&app, &cast.admin, d.id).await.1,
            sorted(&[mgr.id, eng.id]),
            "[{}] neither the one who left nor the deactivated one",
            app.backend
        );
        // Their rows stay (the table's meaning is unchanged): a returning member is
        // listed again.
        assert_eq!(watching(&app, d.id).await, all, "[{}]", app.backend);
        app.add_member(p.id, leaving.id).await;
        assert_eq!(
            seen(&app, eng, d.id).await.1,
            sorted(&[mgr.id, eng.id, leaving.id]),
            "[{}]",
            app.backend
        );
    }
}

/// Statements for one request.
async fn statements(app: &TestApp, who: &Actor, query: &str, vars: Value) -> (usize, Value) {
    let before = app.statements.load(Ordering::SeqCst);
    let data = app.ok(who, query, vars).await;
    (app.statements.load(Ordering::SeqCst) - before, data)
}

#[tokio::test]
async fn a_page_selecting_watchers_and_watching_costs_the_same_at_3_and_20() {
    let q = r"
        query($n: Int) {
          defects(first: $n) { nodes { id watching watchers { id username } } }
        }
    ";
    let bare = "query($n: Int) { defects(first: $n) { nodes { id } } }";
    for app in apps().await {
        let cast = app.cast().await;
        let (mgr, eng) = (&cast.manager, &cast.engineer);
        let p = ProjectBuilder::new(&cast.admin, "Tower")
            .member(eng.id)
            .create(&app)
            .await;
        for i in 0..20 {
            let d = DefectBuilder::new(p.id, mgr, mgr).create(&app).await;
            comments::add(app.db(), &eng.viewer(), d.id, "seen")
                .await
                .unwrap();
            if i % 2 == 0 {
                defect_service::assign(app.db(), &mgr.viewer(), d.id, Some(eng.id), None)
                    .await
                    .unwrap();
                defect_service::change_status(
                    app.db(),
                    &cast.admin.viewer(),
                    d.id,
                    DefectStatus::InProgress,
                    None,
                    None,
                )
                .await
                .unwrap();
            }
        }
        for who in [&cast.admin, eng] {
            let mut counts = Vec::new();
            for n in [3, 20] {
                let (used, data) = statements(&app, who, q, json!({ "n": n })).await;
                let nodes = data["defects"]["nodes"].as_array().unwrap();
                assert_eq!(nodes.len(), n, "[{}]", app.backend);
                for d in nodes {
                    let listed = d["watchers"].as_array().unwrap().len();
                    assert!(listed == 2 || listed == 3, "[{}] {d}", app.backend);
                    let mine = who.id == eng.id || listed == 3;
                    assert_eq!(d["watching"], mine, "[{}] {d}", app.backend);
                }
                counts.push(used);
            }
            let (without, _) = statements(&app, who, bare, json!({ "n": 20 })).await;
            assert_eq!(
                counts[0], counts[1],
                "[{}] per page: {counts:?}",
                app.backend
            );
            assert_eq!(
                counts[1],
                without + 2,
                "[{}] one statement each for watchers and watching ({without} without)",
                app.backend
            );
        }
    }
}
