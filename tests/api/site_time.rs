//! Site time and SLA (NOTIFY.md): a project's zone, SLA rules and escalation are checked
//! (BAD_USER_INPUT naming the field, nothing changed); a defect created without a
//! deadline gets the local creation date + its priority's rule; `isOverdue`, the
//! `overdue` filter, the reports and the export count by each project's today.
//!
//! The zones are Pacific/Kiritimati (UTC+14) and Pacific/Pago_Pago (UTC−11): at every
//! instant their dates differ (by one or two days), and at every instant one of them
//! differs from UTC's. Expected dates are computed when the test runs.
use chrono::{Days, NaiveDate};
use defect_control::{domain::projects::site_time, entities::enums::Role};
use serde_json::{Value, json};

use crate::helpers::{Actor, TestApp, apps, outcome};

const EAST: &str = "Pacific/Kiritimati";
const WEST: &str = "Pacific/Pago_Pago";

const CREATE_PROJECT: &str = r"
    mutation($input: CreateProjectInput!) {
      createProject(input: $input) { id timeZone sla { priority days } escalateAfterDays }
    }
";

const UPDATE_PROJECT: &str = r"
    mutation($id: ID!, $input: UpdateProjectInput!) {
      updateProject(id: $id, input: $input) { id timeZone sla { priority days } escalateAfterDays }
    }
";

const CREATE_DEFECT: &str = r"
    mutation($input: CreateDefectInput!) {
      createDefect(input: $input) {
        id deadline isOverdue
        activity(first: 5) { nodes { kind changes { field from to } } }
      }
    }
";

/// BAD_USER_INPUT whose message names `field` (`"timeZone: …"`).
fn refused_naming(body: &Value, field: &str) {
    assert_eq!(outcome(body), "BAD_USER_INPUT", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or("");
    assert!(message.starts_with(&format!("{field}:")), "{body}");
}

async fn create_project(app: &TestApp, actor: &Actor, input: Value) -> Value {
    app.ok(actor, CREATE_PROJECT, json!({ "input": input }))
        .await["createProject"]
        .clone()
}

async fn create_defect(app: &TestApp, actor: &Actor, input: Value) -> Value {
    app.ok(actor, CREATE_DEFECT, json!({ "input": input }))
        .await["createDefect"]
        .clone()
}

fn date(v: &Value) -> NaiveDate {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a date: {v}"))
}

#[tokio::test]
async fn settings_default_to_utc_and_refusals_name_the_field_and_change_nothing() {
    for app in apps().await {
        let cast = app.cast().await;
        // An existing project (made without the new fields) reads UTC, no rules, never.
        let old = app.project(&cast.admin, "Old").await;
        let q = "query($id: ID!) { project(id: $id) { timeZone sla { days } escalateAfterDays } }";
        let data = app
            .ok(&cast.observer, q, json!({ "id": old.id.to_string() }))
            .await;
        assert_eq!(
            data["project"],
            json!({ "timeZone": "UTC", "sla": [], "escalateAfterDays": null }),
            "[{}]",
            app.backend
        );

        let made = create_project(
            &app,
            &cast.manager,
            json!({
                "title": "Site", "timeZone": "Asia/Novosibirsk", "escalateAfterDays": 5,
                "sla": [{ "priority": "HIGH", "days": 3 }, { "priority": "LOW", "days": 365 }],
            }),
        )
        .await;
        assert_eq!(made["timeZone"], "Asia/Novosibirsk");
        assert_eq!(
            made["sla"],
            json!([{ "priority": "LOW", "days": 365 }, { "priority": "HIGH", "days": 3 }])
        );
        assert_eq!(made["escalateAfterDays"], 5);
        let id = made["id"].as_str().unwrap().to_owned();

        let before = app.snapshot().await;
        let bad: [(&str, Value); 8] = [
            ("timeZone", json!({ "timeZone": "Mars/Olympus" })),
            ("timeZone", json!({ "timeZone": "" })),
            ("sla", json!({ "sla": [{ "priority": "HIGH", "days": 0 }] })),
            (
                "sla",
                json!({ "sla": [{ "priority": "HIGH", "days": 366 }] }),
            ),
            (
                "sla",
                json!({ "sla": [{ "priority": "HIGH", "days": 1 }, { "priority": "HIGH", "days": 2 }] }),
            ),
            ("escalateAfterDays", json!({ "escalateAfterDays": 0 })),
            ("escalateAfterDays", json!({ "escalateAfterDays": 366 })),
            ("escalateAfterDays", json!({ "escalateAfterDays": -1 })),
        ];
        for (field, fields) in &bad {
            let mut input = fields.clone();
            input["title"] = json!("Refused");
            let body = app
                .gql(
                    Some(&cast.admin.token),
                    CREATE_PROJECT,
                    json!({ "input": input }),
                )
                .await;
            refused_naming(&body, field);
            let body = app
                .gql(
                    Some(&cast.admin.token),
                    UPDATE_PROJECT,
                    json!({ "id": id, "input": fields }),
                )
                .await;
            refused_naming(&body, field);
        }
        // A project always has a zone: null is refused, not "leave as it is".
        let body = app
            .gql(
                Some(&cast.manager.token),
                UPDATE_PROJECT,
                json!({ "id": id, "input": { "timeZone": null } }),
            )
            .await;
        refused_naming(&body, "timeZone");
        // Same permission as the project's other fields.
        for who in [&cast.engineer, &cast.observer] {
            let body = app
                .gql(
                    Some(&who.token),
                    UPDATE_PROJECT,
                    json!({ "id": id, "input": { "timeZone": "UTC" } }),
                )
                .await;
            assert_ne!(outcome(&body), "OK", "{:?} {body}", who.role);
        }
        assert_eq!(app.snapshot().await, before, "[{}]", app.backend);

        // Omitted leaves; null clears escalateAfterDays and resets sla to [].
        let kept = app
            .ok(
                &cast.manager,
                UPDATE_PROJECT,
                json!({ "id": id, "input": { "title": "Renamed" } }),
            )
            .await["updateProject"]
            .clone();
        assert_eq!(kept["timeZone"], "Asia/Novosibirsk");
        assert_eq!(kept["sla"].as_array().unwrap().len(), 2);
        assert_eq!(kept["escalateAfterDays"], 5);
        let cleared = app
            .ok(
                &cast.admin,
                UPDATE_PROJECT,
                json!({ "id": id, "input": { "sla": null, "escalateAfterDays": null, "timeZone": EAST } }),
            )
            .await["updateProject"]
            .clone();
        assert_eq!(
            cleared,
            json!({ "id": id, "timeZone": EAST, "sla": [], "escalateAfterDays": null }),
            "[{}]",
            app.backend
        );
    }
}

#[tokio::test]
async fn sla_gives_a_deadline_from_the_local_creation_date_and_only_at_creation() {
    for app in apps().await {
        let cast = app.cast().await;
        let mgr = &cast.manager;
        let project = create_project(
            &app,
            mgr,
            json!({ "title": "East", "timeZone": EAST, "sla": [{ "priority": "HIGH", "days": 3 }] }),
        )
        .await;
        let pid = project["id"].as_str().unwrap().to_owned();
        let local = site_time::today(EAST);
        assert_ne!(
            local,
            site_time::today(WEST),
            "the two zones' dates always differ"
        );

        // With a rule: the local creation date + 3, carried by the CREATED event.
        let high = create_defect(
            &app,
            mgr,
            json!({ "projectId": pid, "title": "Crack", "priority": "HIGH" }),
        )
        .await;
        let want = local.checked_add_days(Days::new(3)).unwrap();
        assert_eq!(date(&high["deadline"]), want, "[{}] {high}", app.backend);
        let created = &high["activity"]["nodes"][0];
        assert_eq!(created["kind"], "CREATED");
        let changes = created["changes"].as_array().unwrap();
        assert!(
            changes
                .iter()
                .any(|c| c["field"] == "deadline" && c["to"] == json!(want.to_string())),
            "[{}] {created}",
            app.backend
        );
        // Without a rule for the priority: no deadline. An explicit deadline wins.
        let medium = create_defect(&app, mgr, json!({ "projectId": pid, "title": "Stain" })).await;
        assert!(medium["deadline"].is_null(), "{medium}");
        let given = local.checked_add_days(Days::new(10)).unwrap().to_string();
        let explicit = create_defect(
            &app,
            mgr,
            json!({ "projectId": pid, "title": "Leak", "priority": "HIGH", "deadline": given }),
        )
        .await;
        assert_eq!(explicit["deadline"], json!(given));

        // Changing the rules changes no existing defect; new ones follow the new rule.
        let before = app.snapshot_except(&["projects"]).await;
        app.ok(
            mgr,
            UPDATE_PROJECT,
            json!({ "id": pid, "input": { "sla": [{ "priority": "HIGH", "days": 7 }, { "priority": "MEDIUM", "days": 1 }] } }),
        )
        .await;
        assert_eq!(
            app.snapshot_except(&["projects"]).await,
            before,
            "[{}]",
            app.backend
        );
        let next = create_defect(
            &app,
            mgr,
            json!({ "projectId": pid, "title": "Gap", "priority": "MEDIUM" }),
        )
        .await;
        assert_eq!(
            date(&next["deadline"]),
            local.checked_add_days(Days::new(1)).unwrap()
        );
    }
}

#[tokio::test]
async fn overdue_counts_by_each_projects_own_today() {
    for app in apps().await {
        let cast = app.cast().await;
        let mgr = &cast.manager;
        let (east_today, west_today) = (site_time::today(EAST), site_time::today(WEST));
        // One deadline for both: past in the east, not yet in the west.
        let deadline = east_today.pred_opt().unwrap();
        assert!(west_today <= deadline, "{east_today} {west_today}");
        let mut ids = Vec::new();
        for (title, zone) in [("East", EAST), ("West", WEST)] {
            let p = create_project(&app, mgr, json!({ "title": title, "timeZone": zone })).await;
            let pid = p["id"].as_str().unwrap().to_owned();
            let d = create_defect(
                &app,
                mgr,
                json!({ "projectId": pid, "title": "Crack", "deadline": deadline.to_string() }),
            )
            .await;
            assert_eq!(d["isOverdue"], zone == EAST, "[{}] {zone} {d}", app.backend);
            ids.push((pid, d["id"].as_str().unwrap().to_owned()));
        }
        let list = "query($o: Boolean) { defects(filter: { overdue: $o }) { totalCount nodes { id isOverdue } } }";
        let overdue = app.ok(mgr, list, json!({ "o": true })).await;
        assert_eq!(
            overdue["defects"],
            json!({ "totalCount": 1, "nodes": [{ "id": ids[0].1, "isOverdue": true }] }),
            "[{}]",
            app.backend
        );
        let not = app.ok(mgr, list, json!({ "o": false })).await;
        assert_eq!(
            not["defects"],
            json!({ "totalCount": 1, "nodes": [{ "id": ids[1].1, "isOverdue": false }] }),
            "[{}]",
            app.backend
        );

        // Reports: each project by its own today, from the aggregate and from the scan.
        let reports = r#"
            query($from: DateTime) {
              reports {
                summary(filter: { from: $from }) { overdue }
                byProject(filter: { from: $from }) { project { id } overdue }
                byEngineer { overdue }
              }
            }
        "#;
        for from in [Value::Null, json!("2000-01-01T00:00:00Z")] {
            let r = app.ok(mgr, reports, json!({ "from": from })).await;
            assert_eq!(
                r["reports"]["summary"]["overdue"], 1,
                "[{}] {r}",
                app.backend
            );
            let by_project: Vec<(Value, Value)> = r["reports"]["byProject"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p["project"]["id"].clone(), p["overdue"].clone()))
                .collect();
            assert_eq!(
                by_project,
                [(json!(ids[0].0), json!(1)), (json!(ids[1].0), json!(0))],
                "[{}] from {from}",
                app.backend
            );
        }
        let cards = "{ projects { nodes { title defectCounts { overdue } } } }";
        let cards = app.ok(mgr, cards, json!({})).await;
        assert_eq!(
            cards["projects"]["nodes"],
            json!([
                { "title": "East", "defectCounts": { "overdue": 1 } },
                { "title": "West", "defectCounts": { "overdue": 0 } },
            ]),
            "[{}]",
            app.backend
        );

        // The export's overdue filter.
        let admin = app.actor(Role::Admin).await;
        let want = |i: usize| vec![ids[i].1.parse::<i32>().unwrap()];
        for (flag, i) in [("true", 0), ("false", 1)] {
            let csv =
                crate::export::fetch(&app, Some(&admin.token), &[("overdue", flag.into())]).await;
            assert_eq!(csv.ids(), want(i), "[{}] overdue={flag}", app.backend);
        }
    }
}
