//! What a frontend's normalized cache needs (API.md, "What a frontend needs"): mutation
//! results that link back to the defect they change, `Project.defectCounts` for project
//! cards, and the scalars described in the contract's words.
use std::sync::atomic::Ordering;

use chrono::Duration;
use defect_control::{
    domain::defects::{comments, trash},
    entities::enums::{DefectStatus, Role},
};
use serde_json::{Value, json};

use crate::{
    builders::{DefectBuilder, ProjectBuilder},
    files::{multipart_request, png},
    helpers::{Actor, TestApp, apps},
};

/// The today of the projects here (UTC, the default zone).
fn today() -> chrono::NaiveDate {
    defect_control::domain::projects::site_time::today("UTC")
}

const ADD_COMMENT: &str = r"
    mutation($d: ID!, $b: String!) {
      addComment(defectId: $d, body: $b) {
        id
        defect { id commentCount comments { id } }
      }
    }
";

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|v| v["id"].as_str().expect("an id").to_owned())
        .collect()
}

#[tokio::test]
async fn add_comment_returns_its_defect_with_the_comment_counted() {
    for app in apps().await {
        let cast = app.cast().await;
        let p = ProjectBuilder::new(&cast.admin, "Tower")
            .member(cast.engineer.id)
            .create(&app)
            .await;
        let d = DefectBuilder::new(p.id, &cast.manager, &cast.manager)
            .create(&app)
            .await;
        let first = comments::add(app.db(), &cast.observer.viewer(), d.id, "first")
            .await
            .unwrap();
        let vars = json!({ "d": d.id.to_string(), "b": "second" });
        let got = app.ok(&cast.engineer, ADD_COMMENT, vars).await["addComment"].clone();
        let new_id = got["id"].as_str().unwrap().to_owned();
        assert_eq!(got["defect"]["id"], d.id.to_string(), "[{}]", app.backend);
        assert_eq!(got["defect"]["commentCount"], 2, "[{}]", app.backend);
        assert_eq!(
            ids(&got["defect"]["comments"]),
            [first.id.to_string(), new_id],
            "[{}]",
            app.backend
        );

        // Two in one document: the second result is current too, although the first
        // loaded the same defect's comments earlier in the request.
        let two = r"
            mutation($d: ID!) {
              a: addComment(defectId: $d, body: 'third') { defect { commentCount comments { id } } }
              b: addComment(defectId: $d, body: 'fourth') { id defect { commentCount comments { id } } }
            }
        "
        .replace('\'', "\"");
        let got = app
            .ok(&cast.manager, &two, json!({ "d": d.id.to_string() }))
            .await;
        assert_eq!(got["a"]["defect"]["commentCount"], 3, "[{}]", app.backend);
        assert_eq!(got["b"]["defect"]["commentCount"], 4, "[{}]", app.backend);
        let listed = ids(&got["b"]["defect"]["comments"]);
        assert_eq!(listed.len(), 4, "[{}]", app.backend);
        assert_eq!(
            listed.last(),
            got["b"]["id"].as_str().map(str::to_owned).as_ref()
        );
    }
}

#[tokio::test]
async fn upload_attachment_returns_its_defect_with_the_file_listed() {
    let query = r"
        mutation($d: ID!, $f: Upload!) {
          uploadAttachment(defectId: $d, file: $f) {
            id
            defect { id attachments { id filename } }
          }
        }
    ";
    for app in apps().await {
        let cast = app.cast().await;
        let p = ProjectBuilder::new(&cast.admin, "Tower").create(&app).await;
        let d = DefectBuilder::new(p.id, &cast.manager, &cast.manager)
            .create(&app)
            .await;
        let vars = json!({ "d": d.id.to_string(), "f": null });
        let mut uploaded = Vec::new();
        for name in ["one.png", "two.png"] {
            let res = app
                .request(multipart_request(
                    Some(&cast.manager.token),
                    query,
                    vars.clone(),
                    name,
                    &png(4, 3),
                ))
                .await;
            assert!(
                res.body.get("errors").is_none(),
                "[{}] {}",
                app.backend,
                res.body
            );
            let got = &res.body["data"]["uploadAttachment"];
            uploaded.push(got["id"].as_str().unwrap().to_owned());
            assert_eq!(got["defect"]["id"], d.id.to_string());
            assert_eq!(
                ids(&got["defect"]["attachments"]),
                uploaded,
                "[{}] the defect lists every file so far, oldest first",
                app.backend
            );
        }
    }
}

/// A comment or attachment reached through `deletedDefects` (managers and admins) links
/// to its defect as it is: deleted.
#[tokio::test]
async fn the_defect_of_a_deleted_defects_comment_is_the_deleted_defect() {
    for app in apps().await {
        let cast = app.cast().await;
        let p = ProjectBuilder::new(&cast.admin, "Tower").create(&app).await;
        let d = DefectBuilder::new(p.id, &cast.manager, &cast.manager)
            .create(&app)
            .await;
        comments::add(app.db(), &cast.manager.viewer(), d.id, "before")
            .await
            .unwrap();
        trash::delete(app.db(), &cast.manager.viewer(), d.id)
            .await
            .unwrap();
        let q = r"
            query {
              deletedDefects(first: 10) {
                nodes { id comments { body defect { id deletedAt commentCount } } }
              }
            }
        ";
        for who in [&cast.manager, &cast.admin] {
            let got = app.ok(who, q, json!({})).await;
            let c = &got["deletedDefects"]["nodes"][0]["comments"][0];
            assert_eq!(c["body"], "before");
            assert_eq!(c["defect"]["id"], d.id.to_string(), "[{}]", app.backend);
            assert!(
                c["defect"]["deletedAt"].is_string(),
                "[{}] {got}",
                app.backend
            );
            assert_eq!(c["defect"]["commentCount"], 1);
        }
    }
}

const COUNTS: &str = r"
    query {
      projects(first: 50) {
        nodes { id defectCounts { open overdue byStatus { status count } } }
      }
    }
";

/// `(open, overdue, [NEW, IN_PROGRESS, REVIEW, CLOSED, CANCELLED])` per project id.
type Counted = Vec<(String, (i64, i64, Vec<i64>))>;

async fn counted(app: &TestApp, who: &Actor) -> Counted {
    let got = app.ok(who, COUNTS, json!({})).await;
    let mut out: Counted = Vec::new();
    for node in got["projects"]["nodes"].as_array().unwrap() {
        let c = &node["defectCounts"];
        let statuses: Vec<&str> = c["byStatus"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            ["NEW", "IN_PROGRESS", "REVIEW", "CLOSED", "CANCELLED"],
            "every status, in the enum's order"
        );
        let by: Vec<i64> = c["byStatus"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["count"].as_i64().unwrap())
            .collect();
        out.push((
            node["id"].as_str().unwrap().to_owned(),
            (
                c["open"].as_i64().unwrap(),
                c["overdue"].as_i64().unwrap(),
                by,
            ),
        ));
    }
    out.sort();
    out
}

#[tokio::test]
async fn defect_counts_per_role_exclude_deleted_defects() {
    for app in apps().await {
        let cast = app.cast().await;
        let mgr = &cast.manager;
        let tower = ProjectBuilder::new(&cast.admin, "Tower")
            .member(cast.engineer.id)
            .create(&app)
            .await;
        let builder = app.actor(Role::Engineer).await;
        let bridge = ProjectBuilder::new(&cast.admin, "Bridge")
            .member(builder.id)
            .create(&app)
            .await;
        let empty = ProjectBuilder::new(&cast.admin, "Empty")
            .member(cast.engineer.id)
            .create(&app)
            .await;
        let (past, now, later) = (
            Some(today() - Duration::days(2)),
            Some(today()),
            Some(today() + Duration::days(2)),
        );
        // Tower: 4 open (2 overdue), 1 closed and 1 cancelled past their deadline (not
        // overdue: not open), and 2 deleted ones (one of them overdue) that count nowhere.
        for (status, deadline) in [
            (DefectStatus::New, past),
            (DefectStatus::New, None),
            (DefectStatus::InProgress, now),
            (DefectStatus::Review, past),
            (DefectStatus::Closed, past),
            (DefectStatus::Cancelled, past),
        ] {
            DefectBuilder::new(tower.id, mgr, mgr)
                .performer(Some(cast.engineer.id))
                .status(status)
                .deadline(deadline)
                .create(&app)
                .await;
        }
        for (status, deadline) in [(DefectStatus::New, past), (DefectStatus::Review, later)] {
            let d = DefectBuilder::new(tower.id, mgr, mgr)
                .performer(Some(cast.engineer.id))
                .status(status)
                .deadline(deadline)
                .create(&app)
                .await;
            trash::delete(app.db(), &mgr.viewer(), d.id).await.unwrap();
        }
        // Bridge (the member engineer is not in it): one overdue, one in progress.
        for (status, deadline) in [(DefectStatus::New, past), (DefectStatus::InProgress, later)] {
            DefectBuilder::new(bridge.id, mgr, mgr)
                .performer(Some(builder.id))
                .status(status)
                .deadline(deadline)
                .create(&app)
                .await;
        }
        let tower_counts = (4, 2, vec![2, 1, 1, 1, 1]);
        let bridge_counts = (2, 1, vec![1, 1, 0, 0, 0]);
        let zero = (0, 0, vec![0, 0, 0, 0, 0]);
        let mut everything = vec![
            (tower.id.to_string(), tower_counts.clone()),
            (bridge.id.to_string(), bridge_counts),
            (empty.id.to_string(), zero.clone()),
        ];
        everything.sort();
        let mut members = vec![
            (tower.id.to_string(), tower_counts),
            (empty.id.to_string(), zero),
        ];
        members.sort();
        for who in [&cast.admin, &cast.manager, &cast.observer] {
            assert_eq!(
                counted(&app, who).await,
                everything,
                "[{}] {:?}",
                app.backend,
                who.role
            );
        }
        assert_eq!(
            counted(&app, &cast.engineer).await,
            members,
            "[{}]",
            app.backend
        );
        // An engineer who is a member of nothing sees no project at all, so no counts.
        assert_eq!(
            counted(&app, &cast.outsider).await,
            vec![],
            "[{}]",
            app.backend
        );
        let hidden = app
            .ok(
                &cast.outsider,
                "query($id: ID!) { project(id: $id) { defectCounts { open } } }",
                json!({ "id": tower.id.to_string() }),
            )
            .await;
        assert!(hidden["project"].is_null(), "[{}] {hidden}", app.backend);

        // The same numbers as the defect list's own filter, for every viewer that sees it.
        let list = r"
            query($p: ID!) {
              open: defects(filter: { projectId: $p, status: [NEW, IN_PROGRESS, REVIEW] }) { totalCount }
              overdue: defects(filter: { projectId: $p, overdue: true }) { totalCount }
              project(id: $p) { defectCounts { open overdue } }
            }
        ";
        for who in [&cast.admin, &cast.manager, &cast.engineer, &cast.observer] {
            let got = app
                .ok(who, list, json!({ "p": tower.id.to_string() }))
                .await;
            let counts = &got["project"]["defectCounts"];
            assert_eq!(
                counts["open"], got["open"]["totalCount"],
                "[{}]",
                app.backend
            );
            assert_eq!(
                counts["overdue"], got["overdue"]["totalCount"],
                "[{}]",
                app.backend
            );
        }

        // Through a defect's project too.
        let via = app
            .ok(
                &cast.engineer,
                "query { defects(first: 1) { nodes { project { defectCounts { open overdue } } } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            via["defects"]["nodes"][0]["project"]["defectCounts"],
            json!({ "open": 4, "overdue": 2 }),
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
async fn a_page_of_projects_with_defect_counts_costs_the_same_at_3_and_30() {
    let q = r"
        query($n: Int) {
          projects(first: $n) {
            nodes { id title defectCounts { open overdue byStatus { status count } } }
          }
        }
    ";
    let bare = "query($n: Int) { projects(first: $n) { nodes { id title } } }";
    for app in apps().await {
        let cast = app.cast().await;
        let mgr = &cast.manager;
        for i in 0..30 {
            let p = ProjectBuilder::new(&cast.admin, &format!("P{i:02}"))
                .member(cast.engineer.id)
                .create(&app)
                .await;
            DefectBuilder::new(p.id, mgr, mgr)
                .deadline(Some(today() - Duration::days(1)))
                .create(&app)
                .await;
        }
        for who in [&cast.admin, &cast.engineer] {
            let mut counts = Vec::new();
            for n in [3, 30] {
                let (used, data) = statements(&app, who, q, json!({ "n": n })).await;
                let nodes = data["projects"]["nodes"].as_array().unwrap();
                assert_eq!(nodes.len(), n);
                assert!(
                    nodes.iter().all(
                        |p| p["defectCounts"]["overdue"] == 1 && p["defectCounts"]["open"] == 1
                    ),
                    "[{}] {data}",
                    app.backend
                );
                counts.push(used);
            }
            let (without, _) = statements(&app, who, bare, json!({ "n": 30 })).await;
            assert_eq!(
                counts[0], counts[1],
                "[{}] per page: {counts:?}",
                app.backend
            );
            assert_eq!(
                counts[1],
                without + 1,
                "[{}] defectCounts costs one statement per page ({without} without)",
                app.backend
            );
        }
    }
}

#[tokio::test]
async fn comments_and_attachments_selecting_their_defect_cost_nothing_more() {
    let q = r"
        query($n: Int) {
          defects(first: $n) {
            nodes {
              id
              comments { id defect { id title version } }
              attachments { id }
            }
          }
        }
    ";
    let bare = r"
        query($n: Int) {
          defects(first: $n) { nodes { id comments { id } attachments { id } } }
        }
    ";
    for app in apps().await {
        let cast = app.cast().await;
        let mgr = &cast.manager;
        let p = ProjectBuilder::new(&cast.admin, "Tower").create(&app).await;
        for _ in 0..40 {
            let d = DefectBuilder::new(p.id, mgr, mgr).create(&app).await;
            for body in ["a", "b"] {
                comments::add(app.db(), &mgr.viewer(), d.id, body)
                    .await
                    .unwrap();
            }
        }
        let mut counts = Vec::new();
        for n in [4, 40] {
            let (used, data) = statements(&app, mgr, q, json!({ "n": n })).await;
            let nodes = data["defects"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), n);
            for d in nodes {
                for c in d["comments"].as_array().unwrap() {
                    assert_eq!(c["defect"]["id"], d["id"], "[{}]", app.backend);
                }
            }
            counts.push(used);
        }
        let (without, _) = statements(&app, mgr, bare, json!({ "n": 40 })).await;
        assert_eq!(
            counts[0], counts[1],
            "[{}] per page: {counts:?}",
            app.backend
        );
        assert_eq!(
            counts[1], without,
            "[{}] a comment's defect is the page's own row",
            app.backend
        );
    }
}

#[tokio::test]
async fn the_scalars_are_described_in_the_contracts_words() {
    let sdl = defect_control::graphql::sdl();
    assert!(
        sdl.contains(
            r#"scalar DateTime @specifiedBy(url: "https://datatracker.ietf.org/doc/html/rfc3339")"#
        ),
        "{sdl}"
    );
    assert!(
        sdl.contains(
            r#"scalar Date @specifiedBy(url: "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6")"#
        ),
        "{sdl}"
    );
    assert!(
        !sdl.contains("DateTime<Utc>"),
        "no Rust type in the public schema"
    );
    for app in apps().await {
        let cast = app.cast().await;
        let q = r#"
            query {
              dt: __type(name: "DateTime") { description specifiedByURL }
              d: __type(name: "Date") { description specifiedByURL }
            }
        "#;
        let got = app.ok(&cast.observer, q, json!({})).await;
        let dt = got["dt"]["description"].as_str().unwrap();
        assert!(dt.contains("RFC 3339 in UTC"), "{dt}");
        assert_eq!(
            got["dt"]["specifiedByURL"],
            "https://datatracker.ietf.org/doc/html/rfc3339"
        );
        let d = got["d"]["description"].as_str().unwrap();
        assert!(
            d.contains("ISO 8601 calendar date") && d.contains("YYYY-MM-DD"),
            "{d}"
        );
        assert!(
            got["d"]["specifiedByURL"]
                .as_str()
                .unwrap()
                .starts_with("https://")
        );
    }
}
