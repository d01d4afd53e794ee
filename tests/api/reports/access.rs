//! Who may read reports, and what a report costs in SQL statements.
use std::sync::atomic::Ordering;

use defect_control::entities::enums::{DefectStatus, Role};
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
