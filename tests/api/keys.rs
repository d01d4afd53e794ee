//! Project codes and defect keys: per-project numbers given out in the create's
//! transaction (concurrent creates, refused creates), `Defect.key`, `defectByKey`,
//! search by key or number, `orderBy: NUMBER`, the code's rules, and the migration that
//! numbers existing defects and gives existing projects a code.
mod bounds;

use defect_control::entities::{defect_numbers, defects, enums::Role, projects};
use futures_util::future::join_all;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Statement};
use serde_json::{Value, json};

use crate::{
    builders::{DefectBuilder, ProjectBuilder},
    helpers::{TestApp, apps},
};

const CREATE: &str = r"
    mutation($i: CreateDefectInput!) {
      createDefect(input: $i) { id number key }
    }
";
const CREATE_PROJECT: &str = r"
    mutation($i: CreateProjectInput!) {
      createProject(input: $i) { id code }
    }
";
const UPDATE_PROJECT: &str = r"
    mutation($id: ID!, $i: UpdateProjectInput!) {
      updateProject(id: $id, input: $i) { id code }
    }
";
const BY_KEY: &str = r"
    query($k: String!) {
      defectByKey(key: $k) { id number key title project { code } }
    }
";
const LIST: &str = r"
    query($f: DefectFilter, $o: DefectOrder, $first: Int, $after: String) {
      defects(filter: $f, orderBy: $o, first: $first, after: $after) {
        nodes { id number key title }
        pageInfo { hasNextPage endCursor }
      }
    }
";

async fn numbers_of(app: &TestApp, project: i32) -> Vec<i32> {
    defects::Entity::find()
        .filter(defects::Column::ProjectId.eq(project))
        .order_by_asc(defects::Column::Number)
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.number)
        .collect()
}

#[tokio::test]
async fn parallel_creates_in_one_project_get_distinct_consecutive_numbers() {
    for app in apps().await {
        let mgr = app.actor(Role::Manager).await;
        let p = ProjectBuilder::new(&mgr, "Parallel")
            .code("ПАР")
            .create(&app)
            .await;
        let other = app.project(&mgr, "Other").await;
        let creates = (0..20).map(|i| {
            app.ok(
                &mgr,
                CREATE,
                json!({ "i": { "projectId": p.id.to_string(), "title": format!("D{i}") } }),
            )
        });
        // Another project's creates at the same time keep their own sequence.
        let others = (0..5).map(|i| {
            app.ok(
                &mgr,
                CREATE,
                json!({ "i": { "projectId": other.id.to_string(), "title": format!("O{i}") } }),
            )
        });
        let (mine, theirs) = tokio::join!(join_all(creates), join_all(others));
        let mut got: Vec<i64> = mine
            .iter()
            .map(|d| d["createDefect"]["number"].as_i64().unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, (1..=20).collect::<Vec<_>>(), "[{}]", app.backend);
        assert_eq!(numbers_of(&app, p.id).await, (1..=20).collect::<Vec<_>>());
        assert_eq!(theirs.len(), 5);
        assert_eq!(
            numbers_of(&app, other.id).await,
            (1..=5).collect::<Vec<_>>()
        );
        let keys: Vec<&str> = mine
            .iter()
            .map(|d| d["createDefect"]["key"].as_str().unwrap())
            .collect();
        assert!(
            keys.contains(&"ПАР-001") && keys.contains(&"ПАР-020"),
            "{keys:?}"
        );
        let counter = defect_numbers::Entity::find_by_id(p.id)
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(counter.last_number, 20);
    }
}

#[tokio::test]
async fn a_refused_create_leaves_no_gap() {
    for app in apps().await {
        let mgr = app.actor(Role::Manager).await;
        let observer = app.actor(Role::Observer).await;
        let p = ProjectBuilder::new(&mgr, "Gaps")
            .code("GAP")
            .create(&app)
            .await;
        let elsewhere = app.project(&mgr, "Elsewhere").await;
        let stage = app.stage(elsewhere.id, "Not here").await;
        let pid = p.id.to_string();
        app.ok(
            &mgr,
            CREATE,
            json!({ "i": { "projectId": pid, "title": "First" } }),
        )
        .await;
        let before = app.snapshot().await;
        for (token, input, code) in [
            (
                &mgr.token,
                json!({ "projectId": pid, "title": "  " }),
                "BAD_USER_INPUT",
            ),
            (
                &mgr.token,
                json!({ "projectId": pid, "title": "x", "stageId": stage.id.to_string() }),
                "BAD_USER_INPUT",
            ),
            (
                &observer.token,
                json!({ "projectId": pid, "title": "x" }),
                "FORBIDDEN",
            ),
        ] {
            assert_eq!(
                app.code(Some(token), CREATE, json!({ "i": input })).await,
                code,
                "[{}] {input}",
                app.backend
            );
        }
        assert_eq!(
            app.snapshot().await,
            before,
            "refused creates changed nothing"
        );
        let next = app
            .ok(
                &mgr,
                CREATE,
                json!({ "i": { "projectId": pid, "title": "Second" } }),
            )
            .await;
        assert_eq!(next["createDefect"]["number"], 2, "[{}]", app.backend);
        assert_eq!(next["createDefect"]["key"], "GAP-002");
    }
}

#[tokio::test]
async fn defect_by_key_finds_what_the_viewer_can_see_and_nothing_else() {
    for app in apps().await {
        let mgr = app.actor(Role::Manager).await;
        let member = app.actor(Role::Engineer).await;
        let outsider = app.actor(Role::Engineer).await;
        let p = ProjectBuilder::new(&mgr, "Keys")
            .code("СК1")
            .member(member.id)
            .create(&app)
            .await;
        for t in ["One", "Two", "Three"] {
            DefectBuilder::new(p.id, &mgr, &mgr)
                .title(t)
                .create(&app)
                .await;
        }
        for key in ["СК1-002", "ск1-2", " Ск1-0002 "] {
            let d = app.ok(&member, BY_KEY, json!({ "k": key })).await;
            assert_eq!(d["defectByKey"]["title"], "Two", "[{}] {key}", app.backend);
            assert_eq!(d["defectByKey"]["key"], "СК1-002");
            assert_eq!(d["defectByKey"]["project"]["code"], "СК1");
        }
        // Invisible, absent and another project's code all look the same.
        for (who, key) in [(&outsider, "СК1-002"), (&mgr, "СК1-004"), (&mgr, "XX-001")] {
            assert_eq!(
                app.code(Some(&who.token), BY_KEY, json!({ "k": key }))
                    .await,
                "NOT_FOUND",
                "[{}] {key}",
                app.backend
            );
        }
        assert_eq!(
            app.code(Some(&mgr.token), BY_KEY, json!({ "k": "not a key" }))
                .await,
            "BAD_USER_INPUT"
        );
        // A deleted defect has no key to find.
        let deleted = DefectBuilder::new(p.id, &mgr, &mgr)
            .title("Gone")
            .create(&app)
            .await;
        app.ok(
            &mgr,
            "mutation($id: ID!) { deleteDefect(id: $id) }",
            json!({ "id": deleted.id.to_string() }),
        )
        .await;
        assert_eq!(
            app.code(Some(&mgr.token), BY_KEY, json!({ "k": "СК1-004" }))
                .await,
            "NOT_FOUND"
        );
    }
}

fn titles(data: &Value) -> Vec<String> {
    data["defects"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn search_matches_a_key_or_a_number_exactly_and_still_matches_text() {
    for app in apps().await {
        let mgr = app.actor(Role::Manager).await;
        let a = ProjectBuilder::new(&mgr, "A")
            .code("СК1")
            .create(&app)
            .await;
        let b = ProjectBuilder::new(&mgr, "B").code("AB").create(&app).await;
        for t in ["Трещина", "Скол", "Room 12 door"] {
            DefectBuilder::new(a.id, &mgr, &mgr)
                .title(t)
                .create(&app)
                .await;
        }
        DefectBuilder::new(b.id, &mgr, &mgr)
            .title("Leak")
            .create(&app)
            .await;
        DefectBuilder::new(b.id, &mgr, &mgr)
            .title("Crack")
            .create(&app)
            .await;
        let search = |s: &str| json!({ "f": { "search": s }, "o": { "field": "TITLE", "direction": "ASC" } });
        let got = titles(&app.ok(&mgr, LIST, search("ск1-002")).await);
        assert_eq!(got, ["Скол"], "[{}] a key, any case", app.backend);
        let got = titles(&app.ok(&mgr, LIST, search("AB-2")).await);
        assert_eq!(got, ["Crack"]);
        // A bare number: that number in every project, plus text that contains it.
        let got = titles(&app.ok(&mgr, LIST, search("2")).await);
        assert_eq!(got, ["Crack", "Room 12 door", "Скол"], "[{}]", app.backend);
        let got = titles(&app.ok(&mgr, LIST, search("трещ")).await);
        assert_eq!(got, ["Трещина"]);
        // Narrowed by project like any filter.
        let f = json!({ "f": { "search": "1", "projectId": b.id.to_string() } });
        assert_eq!(titles(&app.ok(&mgr, LIST, f).await), ["Leak"]);
    }
}

#[tokio::test]
async fn order_by_number_pages_both_ways() {
    for app in apps().await {
        let mgr = app.actor(Role::Manager).await;
        let p = ProjectBuilder::new(&mgr, "Order")
            .code("ORD")
            .create(&app)
            .await;
        for t in ["b", "c", "a", "e", "d"] {
            DefectBuilder::new(p.id, &mgr, &mgr)
                .title(t)
                .create(&app)
                .await;
        }
        for (dir, want) in [("ASC", [1, 2, 3, 4, 5]), ("DESC", [5, 4, 3, 2, 1])] {
            let mut got = Vec::new();
            let mut after = Value::Null;
            loop {
                let v = json!({
                    "f": { "projectId": p.id.to_string() },
                    "o": { "field": "NUMBER", "direction": dir },
                    "first": 2,
                    "after": after,
                });
                let page = app.ok(&mgr, LIST, v).await;
                for n in page["defects"]["nodes"].as_array().unwrap() {
                    got.push(n["number"].as_i64().unwrap());
                }
                if page["defects"]["pageInfo"]["hasNextPage"] != true {
                    break;
                }
                after = page["defects"]["pageInfo"]["endCursor"].clone();
            }
            assert_eq!(got, want, "[{}] {dir}", app.backend);
        }
    }
}

#[tokio::test]
async fn project_codes_are_validated_unique_and_fixed_once_used() {
    for app in apps().await {
        let mgr = app.actor(Role::Manager).await;
        let made = app
            .ok(
                &mgr,
                CREATE_PROJECT,
                json!({ "i": { "title": "Coded", "code": " СК1 " } }),
            )
            .await;
        assert_eq!(made["createProject"]["code"], "СК1", "trimmed");
        let id = made["createProject"]["id"].clone();
        let before = app.snapshot().await;
        for code in ["С", "ABCDEFGHIJK", "СК-1", "a b", "ск1", "Ск1"] {
            let body = app
                .gql(
                    Some(&mgr.token),
                    CREATE_PROJECT,
                    json!({ "i": { "title": "Dup", "code": code } }),
                )
                .await;
            let err = &body["errors"][0];
            assert_eq!(
                err["extensions"]["code"], "BAD_USER_INPUT",
                "[{}] {code}",
                app.backend
            );
            assert!(
                err["message"].as_str().unwrap().starts_with("code:"),
                "{body}"
            );
        }
        assert_eq!(app.snapshot().await, before);
        // Free to change while the project has no defects.
        let v = app
            .ok(
                &mgr,
                UPDATE_PROJECT,
                json!({ "id": id, "i": { "code": "СК2" } }),
            )
            .await;
        assert_eq!(v["updateProject"]["code"], "СК2");
        let pid: i32 = id.as_str().unwrap().parse().unwrap();
        DefectBuilder::new(pid, &mgr, &mgr).create(&app).await;
        let before = app.snapshot().await;
        for change in [json!("СК3"), Value::Null] {
            assert_eq!(
                app.code(
                    Some(&mgr.token),
                    UPDATE_PROJECT,
                    json!({ "id": id, "i": { "code": change } })
                )
                .await,
                "BAD_USER_INPUT",
                "[{}] {change}",
                app.backend
            );
        }
        assert_eq!(app.snapshot().await, before, "the code stayed");
        // Giving the same code again is no change.
        app.ok(
            &mgr,
            UPDATE_PROJECT,
            json!({ "id": id, "i": { "code": "СК2" } }),
        )
        .await;
        // A project without a code may get one later: its defects get keys.
        let plain = app.project(&mgr, "Plain").await;
        DefectBuilder::new(plain.id, &mgr, &mgr).create(&app).await;
        let v = app
            .ok(
                &mgr,
                UPDATE_PROJECT,
                json!({ "id": plain.id.to_string(), "i": { "code": "PL" } }),
            )
            .await;
        assert_eq!(v["updateProject"]["code"], "PL");
        let d = app.ok(&mgr, BY_KEY, json!({ "k": "PL-001" })).await;
        assert_eq!(d["defectByKey"]["number"], 1);
    }
}

/// The migration on data that existed before it: numbers by `created_at` then id per
/// project (soft-deleted defects included), counters that continue from there, and a
/// code for every project, unique case-insensitively.
#[tokio::test]
async fn the_migration_numbers_existing_defects_and_codes_existing_projects() {
    for app in apps().await {
        let mgr = app.actor(Role::Manager).await;
        let a = app.project(&mgr, "Башня Север").await;
        let b = app.project(&mgr, "башня север").await;
        let c = app.project(&mgr, "!").await;
        // Created out of time order: the migration must follow created_at, then id.
        let base = chrono::Utc::now() - chrono::Duration::days(10);
        let rows = [
            (a.id, 3),
            (a.id, 1),
            (b.id, 5),
            (a.id, 2),
            (a.id, 1),
            (b.id, 4),
        ];
        let mut ids = Vec::new();
        for (p, day) in rows {
            let d = DefectBuilder::new(p, &mgr, &mgr)
                .created_at(base + chrono::Duration::days(day))
                .create(&app)
                .await;
            ids.push(d.id);
        }
        let db = app.db();
        // Back to the schema before keys (this test's database only), then up again.
        let applied = Migrator::get_applied_migrations(db).await.unwrap().len();
        let before_keys = Migrator::migrations()
            .iter()
            .position(|m| m.name() == "m20261130_000601_defect_keys")
            .unwrap();
        Migrator::down(db, Some((applied - before_keys) as u32))
            .await
            .unwrap();
        let backend = db.get_database_backend();
        // Name the column rather than `SELECT *` + a lookup by name: sqlx-sqlite reads the
        // column list at prepare time, and a pooled connection whose schema cache predates
        // the down migration (run on another connection) reports the old column list for
        // a row that has one value fewer, which panics inside sqlx on the lookup.
        let gone = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT number FROM defects LIMIT 1",
            ))
            .await;
        assert!(gone.is_err(), "[{}] the column is gone", app.backend);
        Migrator::up(db, None).await.unwrap();
        let number = |id: i32| async move {
            defects::Entity::find_by_id(id)
                .one(db)
                .await
                .unwrap()
                .unwrap()
                .number
        };
        // a: day 1 (ids[1], ids[4] by id), day 2, day 3; b: day 4, day 5.
        let want = [4, 1, 2, 3, 2, 1];
        for (id, n) in ids.iter().zip(want) {
            assert_eq!(number(*id).await, n, "[{}] defect {id}", app.backend);
        }
        let codes: Vec<Option<String>> = projects::Entity::find()
            .filter(projects::Column::Id.is_in([a.id, b.id, c.id]))
            .order_by_asc(projects::Column::Id)
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.code)
            .collect();
        assert_eq!(
            codes,
            [
                Some("БС".into()),
                Some("БС2".into()),
                Some(format!("P{}", c.id))
            ],
            "[{}]",
            app.backend
        );
        // New defects continue after the highest number.
        let next = DefectBuilder::new(a.id, &mgr, &mgr).create(&app).await;
        assert_eq!(next.number, 5, "[{}]", app.backend);
        let d = app.ok(&mgr, BY_KEY, json!({ "k": "бс-005" })).await;
        assert_eq!(d["defectByKey"]["id"], next.id.to_string());
    }
}
