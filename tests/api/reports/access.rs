//! Who may read reports, and what a report costs in SQL statements.
use std::sync::atomic::Ordering;

use defect_control::{
    entities::enums::{DefectStatus, Role},
    graphql::{MAX_COMPLEXITY, reports::RANGED_REPORT_COST},
};
use serde_json::json;

use super::{BY_ENGINEER, BY_PROJECT, SUMMARY, dataset};
use crate::{
    fixtures::{Spec, base_time, make},
    helpers::{Actor, TestApp, apps},
};

#[tokio::test]
async fn reports_are_for_admins_managers_and_observers() {
    for app in apps().await {
        let data = dataset(&app).await;
        let admin = app.actor(Role::Admin).await;
        for q in [SUMMARY, BY_PROJECT, BY_ENGINEER] {
            for ok in [&admin, &data.manager, &data.observer] {
                app.ok(ok, q, json!({})).await;
            }
            assert_eq!(
                app.code(Some(&data.engineer.token), q, json!({})).await,
                "FORBIDDEN"
            );
            assert_eq!(app.code(None, q, json!({})).await, "UNAUTHENTICATED");
            assert_eq!(
                app.code(Some("garbage"), q, json!({})).await,
                "UNAUTHENTICATED"
            );
        }
        let bare = "{ reports { __typename } }";
        assert_eq!(
            app.code(Some(&data.engineer.token), bare, json!({})).await,
            "FORBIDDEN"
        );
    }
}

/// Statements run by one report request (the viewer lookup included).
async fn cost(app: &TestApp, actor: &Actor, query: &str) -> usize {
    let before = app.statements.load(Ordering::SeqCst);
    app.ok(actor, query, json!({ "f": {} })).await;
    app.statements.load(Ordering::SeqCst) - before
}

#[tokio::test]
async fn each_report_costs_the_same_few_statements_whatever_the_data() {
    for app in apps().await {
        let data = dataset(&app).await;
        let m = &data.manager;
        let small = [
            cost(&app, m, SUMMARY).await,
            cost(&app, m, BY_PROJECT).await,
            cost(&app, m, BY_ENGINEER).await,
        ];
        // The viewer lookup, the aggregate, and for lists the rows reported on.
        assert_eq!(small, [2, 3, 3], "[{}]", app.backend);
        let admin = app.actor(Role::Admin).await;
        let extra = app.project(&admin, "Delta").await.id;
        for e in &data.engineers[..3] {
            app.add_member(extra, e.id).await;
        }
        for i in 0..40 {
            let spec = Spec {
                performer: Some(data.engineers[i % 3].id),
                status: DefectStatus::Closed,
                hours: i as f64,
                ..Spec::new(extra, base_time())
            };
            make(&app, m, m, &spec).await;
        }
        let large = [
            cost(&app, m, SUMMARY).await,
            cost(&app, m, BY_PROJECT).await,
            cost(&app, m, BY_ENGINEER).await,
        ];
        assert_eq!(small, large, "[{}]", app.backend);
        let total = app.ok(m, SUMMARY, json!({})).await["reports"]["summary"]["total"].clone();
        assert_eq!(total, 51);
    }
}

/// `reports { <alias>: <field>(filter: $f) { … } … }` with `n` aliases, cycling through
/// the three reports.
fn aliased(n: usize) -> String {
    let fields = [
        "summary(filter: $f) { total }",
        "byProject(filter: $f) { total }",
        "byEngineer(filter: $f) { assigned }",
    ];
    let body: String = (0..n)
        .map(|i| format!("        r{i}: {}\n", fields[i % 3]))
        .collect();
    format!("query($f: ReportFilter) {{\n      reports {{\n{body}      }}\n    }}")
}

/// A report with `from`/`to` scans the defects created in the range (the aggregate keeps
/// no creation times), so it costs RANGED_REPORT_COST in the complexity limit: a report
/// screen's few run, and a document with many aliased copies is refused with
/// GRAPHQL_VALIDATION_FAILED before any report runs (no statement but the viewer's).
/// Without a range the same document stays cheap.
#[tokio::test]
async fn many_ranged_reports_in_one_document_are_refused_before_any_scan() {
    let most = MAX_COMPLEXITY / RANGED_REPORT_COST - 1;
    assert!(most >= 3, "a report screen's three ranged reports must fit");
    for app in apps().await {
        let data = dataset(&app).await;
        let m = &data.manager;
        let statements = |before: usize| app.statements.load(Ordering::SeqCst) - before;
        // The viewer lookup: what any request costs before its document runs.
        let before = app.statements.load(Ordering::SeqCst);
        app.ok(m, "{ me { id } }", json!({})).await;
        let viewer = statements(before) - 1;

        let ranges = [
            json!({ "from": "2000-01-01T00:00:00Z" }),
            json!({ "to": "2100-01-01T00:00:00Z" }),
            json!({ "from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z" }),
        ];
        let everything = app.ok(m, SUMMARY, json!({})).await["reports"]["summary"]["total"].clone();
        for range in &ranges {
            let before = app.statements.load(Ordering::SeqCst);
            let got = app.ok(m, &aliased(most), json!({ "f": range })).await;
            assert!(
                statements(before) > viewer + most,
                "[{}] the scans ran",
                app.backend
            );
            assert_eq!(
                got["reports"]["r0"]["total"], everything,
                "[{}] {range}",
                app.backend
            );
            for n in [most + 1, 100] {
                let before = app.statements.load(Ordering::SeqCst);
                let body = app
                    .gql(Some(&m.token), &aliased(n), json!({ "f": range }))
                    .await;
                assert_eq!(
                    body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
                    "[{}] {n} × {range}: {body}",
                    app.backend
                );
                assert!(body["data"].is_null(), "{body}");
                assert_eq!(
                    statements(before),
                    viewer,
                    "[{}] {n} × {range}",
                    app.backend
                );
            }
        }
        // A range written into the document counts the same as one in a variable.
        let literal = aliased(most + 1)
            .replace("query($f: ReportFilter)", "query")
            .replace("$f", r#"{ from: "2000-01-01T00:00:00Z" }"#);
        assert_eq!(
            app.code(Some(&m.token), &literal, json!({})).await,
            "GRAPHQL_VALIDATION_FAILED"
        );
        // A malformed date is still the caller's input, named, not a failed count.
        let bad = r#"{ reports { summary(filter: { from: "garbage" }) { total } } }"#;
        let body = app.gql(Some(&m.token), bad, json!({})).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|msg| msg.contains("from")),
            "{body}"
        );
        // Without a range every report reads the aggregate: 100 of them still run.
        for f in [
            json!({}),
            json!({ "projectId": data.projects[0].0.to_string() }),
            json!(null),
        ] {
            let got = app.ok(m, &aliased(100), json!({ "f": f })).await;
            assert_eq!(got["reports"].as_object().unwrap().len(), 100);
        }
    }
}
