//! Text and list bounds: NUL and other control characters are refused with the field's
//! name on both databases (PostgreSQL cannot store NUL and used to answer 500), and a
//! huge enum list is deduplicated instead of hitting the SQL parameter limit.
use defect_control::entities::enums::{Priority, Role};
use serde_json::json;

use crate::{builders::DefectBuilder, helpers::apps};

const NUL: &str = "a\u{0}b";

#[tokio::test]
async fn control_characters_are_refused_naming_the_field_on_both_databases() {
    for app in apps().await {
        let manager = app.actor(Role::Manager).await;
        let admin = app.actor(Role::Admin).await;
        let project = app.project(&manager, "Tower").await;
        let defect = DefectBuilder::new(project.id, &manager, &manager)
            .title("Crack")
            .priority(Priority::Low)
            .create(&app)
            .await
            .id
            .to_string();
        let before = app.snapshot().await;
        let cases = [
            (
                r"
                mutation($p: ID!, $t: String!) {
                  createDefect(input: { projectId: $p, title: $t, priority: LOW }) { id }
                }
                ",
                json!({ "p": project.id.to_string(), "t": NUL }),
                "title",
                &manager,
            ),
            (
                r#"
                mutation($p: ID!, $d: String!) {
                  createDefect(
                    input: {
                      projectId: $p
                      title: "T"
                      description: $d
                      priority: LOW
                    }
                  ) { id }
                }
                "#,
                json!({ "p": project.id.to_string(), "d": NUL }),
                "description",
                &manager,
            ),
            (
                r"
                mutation($id: ID!, $d: String!) {
                  updateDefect(id: $id, input: { description: $d }) { id }
                }
                ",
                json!({ "id": defect, "d": "escape \u{1b}[2J" }),
                "description",
                &manager,
            ),
            (
                r"
                mutation($id: ID!, $b: String!) {
                  addComment(defectId: $id, body: $b) { id }
                }
                ",
                json!({ "id": defect, "b": NUL }),
                "body",
                &manager,
            ),
            (
                r"
                mutation($id: ID!, $c: String!) {
                  changeDefectStatus(id: $id, status: CANCELLED, comment: $c) { id }
                }
                ",
                json!({ "id": defect, "c": NUL }),
                "comment",
                &manager,
            ),
            (
                r"
                mutation($t: String!) {
                  createProject(input: { title: $t }) { id }
                }
                ",
                json!({ "t": NUL }),
                "title",
                &manager,
            ),
            (
                r#"
                mutation($d: String!) {
                  createProject(input: { title: "P", description: $d }) { id }
                }
                "#,
                json!({ "d": NUL }),
                "description",
                &manager,
            ),
            (
                r#"
                mutation($n: String!) {
                  createUser(
                    input: {
                      username: "newbie"
                      email: "n@example.com"
                      fullName: $n
                      password: "password123"
                      role: OBSERVER
                    }
                  ) { id }
                }
                "#,
                json!({ "n": "Ann\nOnymous" }),
                "fullName",
                &admin,
            ),
            (
                r#"
                mutation($u: String!) {
                  createUser(
                    input: {
                      username: $u
                      email: "m@example.com"
                      password: "password123"
                      role: OBSERVER
                    }
                  ) { id }
                }
                "#,
                json!({ "u": NUL }),
                "username",
                &admin,
            ),
            (
                r#"
                mutation($e: String!) {
                  createUser(
                    input: {
                      username: "mmm"
                      email: $e
                      password: "password123"
                      role: OBSERVER
                    }
                  ) { id }
                }
                "#,
                json!({ "e": "m\u{0}@example.com" }),
                "email",
                &admin,
            ),
        ];
        for (query, vars, field, actor) in cases {
            let body = app.gql(Some(&actor.token), query, vars).await;
            let err = &body["errors"][0];
            assert_eq!(
                err["extensions"]["code"], "BAD_USER_INPUT",
                "[{}] {field}: {body}",
                app.backend
            );
            assert!(
                err["message"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{field}:")),
                "[{}] names the field: {body}",
                app.backend
            );
        }
        assert_eq!(
            app.snapshot().await,
            before,
            "[{}] nothing changed",
            app.backend
        );

        // Tabs and line breaks stay allowed in multi-line text.
        let ok = app
            .ok(
                &manager,
                r"
                mutation($id: ID!, $b: String!) {
                  addComment(defectId: $id, body: $b) { body }
                }
                ",
                json!({ "id": defect, "b": "line 1\r\n\tline 2" }),
            )
            .await;
        assert_eq!(ok["addComment"]["body"], "line 1\r\n\tline 2");

        // Search, in every list that has one, and in the CSV export.
        for (query, vars) in [
            (
                r"
                query($f: DefectFilter) {
                  defects(filter: $f) { totalCount }
                }
                ",
                json!({ "f": { "search": NUL } }),
            ),
            (
                r"
                query($s: String) {
                  projects(search: $s) { totalCount }
                }
                ",
                json!({ "s": NUL }),
            ),
            (
                r"
                query($s: String) {
                  users(search: $s) { totalCount }
                }
                ",
                json!({ "s": NUL }),
            ),
        ] {
            let body = app.gql(Some(&manager.token), query, vars).await;
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "[{}] {body}",
                app.backend
            );
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("search:"),
                "{body}"
            );
        }
        let res = app
            .get("/api/reports/export/?search=a%00b", Some(&manager.token))
            .await;
        assert_eq!(res.status, 400, "[{}] {:?}", app.backend, res.body);
        assert_eq!(res.body["error"]["code"], "BAD_USER_INPUT");
    }
}

#[tokio::test]
async fn a_70000_entry_status_list_is_deduplicated() {
    // Two 70,000-entry lists make a 1.1 MB body: over the default MAX_JSON_BODY_BYTES
    // (1 MiB), which has its own test (graphql_http.rs); this one is about the lists.
    for app in crate::helpers::apps_with(|c| c.max_json_body_bytes = 4 << 20).await {
        let manager = app.actor(Role::Manager).await;
        let project = app.project(&manager, "Tower").await;
        DefectBuilder::new(project.id, &manager, &manager)
            .title("Crack")
            .priority(Priority::Low)
            .create(&app)
            .await;
        let statuses: Vec<&str> = ["NEW", "IN_PROGRESS", "REVIEW", "CLOSED", "CANCELLED"]
            .iter()
            .cycle()
            .take(70_000)
            .copied()
            .collect();
        let body = app
            .gql(
                Some(&manager.token),
                r"
                query($f: DefectFilter) {
                  defects(filter: $f) { totalCount nodes { title } }
                }
                ",
                json!({ "f": { "status": statuses, "priority": vec!["LOW"; 70_000] } }),
            )
            .await;
        assert!(body["errors"].is_null(), "[{}] {body}", app.backend);
        assert_eq!(
            body["data"]["defects"]["totalCount"], 1,
            "[{}]",
            app.backend
        );
        let only_new = vec!["NEW"; 70_000];
        let body = app
            .gql(
                Some(&manager.token),
                r"
                query($f: DefectFilter) {
                  reports { summary(filter: null) { total } }
                  defects(filter: $f) { totalCount }
                }
                ",
                json!({ "f": { "status": only_new } }),
            )
            .await;
        assert!(body["errors"].is_null(), "[{}] {body}", app.backend);
        assert_eq!(body["data"]["defects"]["totalCount"], 1);
        // The CSV export, with the status repeated as parameters.
        let query = "status=new&".repeat(5_000);
        let res = app
            .get(
                &format!("/api/reports/export/?{query}"),
                Some(&manager.token),
            )
            .await;
        assert_eq!(res.status, 200, "[{}] {:?}", app.backend, res.body);
    }
}

/// Issue 19: `activity(filter: { kinds: [70,000 values] })` was INTERNAL (one SQL
/// parameter per entry: over PostgreSQL's limit of 65,535, over SQLite's too). Every enum
/// list goes through `validate::one_of`, which keeps each value once.
#[tokio::test]
async fn a_70000_entry_kinds_list_is_deduplicated() {
    for app in crate::helpers::apps_with(|c| c.max_json_body_bytes = 4 << 20).await {
        let manager = app.actor(Role::Manager).await;
        let project = app.project(&manager, "Tower").await;
        DefectBuilder::new(project.id, &manager, &manager)
            .title("Crack")
            .priority(Priority::Low)
            .create(&app)
            .await;
        let kinds: Vec<&str> = ["CREATED", "COMMENTED", "UPDATED"]
            .iter()
            .cycle()
            .take(70_000)
            .copied()
            .collect();
        let body = app
            .gql(
                Some(&manager.token),
                "query($f: ActivityFilter) { activity(filter: $f) { totalCount nodes { kind } } }",
                json!({ "f": { "kinds": kinds } }),
            )
            .await;
        assert!(body["errors"].is_null(), "[{}] {body}", app.backend);
        assert_eq!(
            body["data"]["activity"]["totalCount"], 1,
            "[{}] {body}",
            app.backend
        );
        assert_eq!(body["data"]["activity"]["nodes"][0]["kind"], "CREATED");
    }
}
