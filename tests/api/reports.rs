//! Reports over GraphQL, checked exactly against numbers computed here from a known
//! dataset: every status and priority, zeros, the overdue date boundary, average hours,
//! project and date filters, engineers and projects without defects, role limits and a
//! statement count that does not grow with the data.
mod access;
mod check;
mod exactness;

use chrono::{Duration, NaiveDate, Utc};
use defect_control::entities::{
    defects,
    enums::{DefectStatus, Priority, Role},
};
use serde_json::{Value, json};

use crate::{
    builders,
    fixtures::{Spec, base_time, make},
    helpers::{Actor, TestApp, apps},
};

const STATUSES: [(DefectStatus, &str); 5] = [
    (DefectStatus::New, "NEW"),
    (DefectStatus::InProgress, "IN_PROGRESS"),
    (DefectStatus::Review, "REVIEW"),
    (DefectStatus::Closed, "CLOSED"),
    (DefectStatus::Cancelled, "CANCELLED"),
];
const PRIORITIES: [(Priority, &str); 3] = [
    (Priority::Low, "LOW"),
    (Priority::Medium, "MEDIUM"),
    (Priority::High, "HIGH"),
];

fn by_status(rows: &[&Spec]) -> Value {
    STATUSES
        .iter()
        .map(|(s, name)| {
            json!({ "status": name, "count": rows.iter().filter(|r| r.status == *s).count() })
        })
        .collect()
}

fn avg_hours(rows: &[&Spec]) -> Option<f64> {
    let closed: Vec<f64> = rows
        .iter()
        .filter(|r| r.status == DefectStatus::Closed)
        .map(|r| r.hours)
        .collect();
    (!closed.is_empty()).then(|| closed.iter().sum::<f64>() / closed.len() as f64)
}

/// Compares everything but `avgResolutionHours` exactly, and that within float noise.
fn assert_report(mut got: Value, mut want: Value, what: &str) {
    let g = got["avgResolutionHours"].take();
    let w = want["avgResolutionHours"].take();
    assert_eq!(got, want, "{what}");
    match (g.as_f64(), w.as_f64()) {
        (Some(g), Some(w)) => assert!((g - w).abs() < 1e-6, "{what}: avg {g} != {w}"),
        _ => assert_eq!(g, w, "{what}: avg"),
    }
}

fn summary_of(rows: &[&Spec], today: NaiveDate) -> Value {
    json!({
        "total": rows.len(),
        "open": rows.iter().filter(|r| r.open()).count(),
        "overdue": rows.iter().filter(|r| r.overdue(today)).count(),
        "byStatus": by_status(rows),
        "byPriority": PRIORITIES.iter().map(|(p, name)| {
            json!({ "priority": name, "count": rows.iter().filter(|r| r.priority == *p).count() })
        }).collect::<Value>(),
        "avgResolutionHours": avg_hours(rows),
    })
}

/// project, priority, final status, performer, deadline, hours to close.
type Row = (
    i32,
    Priority,
    DefectStatus,
    Option<i32>,
    Option<NaiveDate>,
    f64,
);

pub struct Data {
    pub manager: Actor,
    pub observer: Actor,
    pub engineer: Actor,
    /// Active engineers, with the inactive one last.
    pub engineers: Vec<Actor>,
    /// (id, title): Alpha, Bravo, Charlie (no defects).
    pub projects: Vec<(i32, &'static str)>,
    pub specs: Vec<Spec>,
    pub rows: Vec<defects::Model>,
    pub today: NaiveDate,
}

pub async fn dataset(app: &TestApp) -> Data {
    let admin = app.actor(Role::Admin).await;
    let manager = app.actor(Role::Manager).await;
    let observer = app.actor(Role::Observer).await;
    let mut engineers = Vec::new();
    for _ in 0..4 {
        engineers.push(app.actor(Role::Engineer).await);
    }
    // Created out of title order, to see byProject sort.
    let bravo = app.project(&admin, "Bravo").await.id;
    let alpha = app.project(&admin, "Alpha").await.id;
    let charlie = app.project(&admin, "Charlie").await.id;
    for e in &engineers {
        app.add_member(alpha, e.id).await;
        app.add_member(bravo, e.id).await;
    }
    let (e1, e2, inactive) = (engineers[0].id, engineers[1].id, engineers[3].id);
    let today = Utc::now().date_naive();
    let (yesterday, tomorrow3) = (today - Duration::days(1), today + Duration::days(3));
    let base = base_time();
    use DefectStatus::*;
    use Priority::*;
    #[rustfmt::skip]
    let table: [Row; 11] = [
        (alpha, High, New, None, Some(yesterday), 0.0),
        (alpha, High, InProgress, Some(e1), Some(today), 0.0),
        (alpha, Medium, Review, Some(e1), Some(yesterday), 0.0),
        (alpha, Low, Closed, Some(e1), Some(yesterday), 10.0),
        (alpha, Medium, Cancelled, None, Some(yesterday), 0.0),
        (bravo, Low, Closed, Some(e2), None, 2.5),
        (bravo, High, InProgress, Some(e2), Some(tomorrow3), 0.0),
        (bravo, Medium, New, None, None, 0.0),
        (bravo, Low, Closed, Some(e1), Some(today), 24.0),
        (alpha, Low, InProgress, Some(inactive), Some(yesterday), 0.0),
        (bravo, High, Review, Some(e2), Some(today - Duration::days(10)), 0.0),
    ];
    let mut specs = Vec::new();
    let mut rows = Vec::new();
    for (i, (project, priority, status, performer, deadline, hours)) in table.iter().enumerate() {
        let spec = Spec {
            priority: *priority,
            status: *status,
            performer: *performer,
            deadline: *deadline,
            hours: *hours,
            ..Spec::new(*project, base + Duration::hours(6 * i as i64))
        };
        rows.push(make(app, &manager, &manager, &spec).await);
        specs.push(spec);
    }
    // Deactivated after the fact: their defects still count, but they are not listed.
    builders::deactivate(app, inactive).await;
    Data {
        manager,
        observer,
        engineer: engineers[0].clone(),
        engineers,
        projects: vec![(alpha, "Alpha"), (bravo, "Bravo"), (charlie, "Charlie")],
        specs,
        rows,
        today,
    }
}

pub const SUMMARY: &str = r"
    query($f: ReportFilter) {
      reports {
        summary(filter: $f) {
          total open overdue
          byStatus { status count }
          byPriority { priority count }
          avgResolutionHours
        }
      }
    }
";
pub const BY_PROJECT: &str = r"
    query($f: ReportFilter) {
      reports {
        byProject(filter: $f) {
          project { id title }
          total open closed cancelled overdue
          byStatus { status count }
          avgResolutionHours
        }
      }
    }
";
pub const BY_ENGINEER: &str = r"
    query($f: ReportFilter) {
      reports {
        byEngineer(filter: $f) {
          engineer { id username }
          assigned open inReview closed overdue avgResolutionHours
        }
      }
    }
";

#[tokio::test]
async fn summary_counts_every_status_priority_overdue_and_average_exactly() {
    for app in apps().await {
        let data = dataset(&app).await;
        let all: Vec<&Spec> = data.specs.iter().collect();
        let got = app.ok(&data.manager, SUMMARY, json!({})).await["reports"]["summary"].clone();
        assert_report(got.clone(), summary_of(&all, data.today), app.backend);
        // The same numbers written out by hand, so the helper cannot be wrong alone.
        assert_eq!(
            (&got["total"], &got["open"], &got["overdue"]),
            (&json!(11), &json!(7), &json!(4)),
            "[{}] deadline today is not overdue, yesterday is; final ones never are",
            app.backend
        );
        let avg = got["avgResolutionHours"].as_f64().unwrap();
        assert!((avg - (10.0 + 2.5 + 24.0) / 3.0).abs() < 1e-6, "{avg}");

        // Project filter: Bravo has no CANCELLED defect, so a zero stays in the list.
        let bravo = data.projects[1].0;
        let in_bravo: Vec<&Spec> = all.iter().copied().filter(|s| s.project == bravo).collect();
        let got = app
            .ok(
                &data.observer,
                SUMMARY,
                json!({ "f": { "projectId": bravo.to_string() } }),
            )
            .await["reports"]["summary"]
            .clone();
        assert_report(got.clone(), summary_of(&in_bravo, data.today), app.backend);
        assert_eq!(
            got["byStatus"][4],
            json!({ "status": "CANCELLED", "count": 0 })
        );

        // Date filter: bounds are inclusive, using the rows' own timestamps.
        let (from, to) = (data.rows[2].created_at, data.rows[6].created_at);
        let window: Vec<&Spec> = all
            .iter()
            .copied()
            .filter(|s| s.created_at >= from && s.created_at <= to)
            .collect();
        assert_eq!(window.len(), 5);
        let f = json!({ "from": from.to_rfc3339(), "to": to.to_rfc3339() });
        let got =
            app.ok(&data.manager, SUMMARY, json!({ "f": f })).await["reports"]["summary"].clone();
        assert_report(got, summary_of(&window, data.today), app.backend);

        // Combined, and a window with nothing in it: all zeros, no average.
        let f = json!({ "projectId": bravo.to_string(), "from": from.to_rfc3339(), "to": to.to_rfc3339() });
        let both: Vec<&Spec> = window
            .iter()
            .copied()
            .filter(|s| s.project == bravo)
            .collect();
        let got =
            app.ok(&data.manager, SUMMARY, json!({ "f": f })).await["reports"]["summary"].clone();
        assert_report(got, summary_of(&both, data.today), app.backend);
        let f = json!({ "to": (data.rows[0].created_at - Duration::seconds(1)).to_rfc3339() });
        let got =
            app.ok(&data.manager, SUMMARY, json!({ "f": f })).await["reports"]["summary"].clone();
        assert_report(got.clone(), summary_of(&[], data.today), app.backend);
        assert_eq!(got["avgResolutionHours"], Value::Null);
        assert_eq!(got["byPriority"].as_array().unwrap().len(), 3);
        // An id that is not ours matches nothing rather than everything.
        let got = app
            .ok(
                &data.manager,
                SUMMARY,
                json!({ "f": { "projectId": "1 OR 1=1" } }),
            )
            .await["reports"]["summary"]
            .clone();
        assert_eq!(got["total"], 0);
    }
}

#[tokio::test]
async fn by_project_lists_every_visible_project_by_title_with_zeros() {
    for app in apps().await {
        let data = dataset(&app).await;
        let expected = |filter: &dyn Fn(&Spec) -> bool| -> Value {
            data.projects
                .iter()
                .map(|(id, title)| {
                    let rows: Vec<&Spec> = data
                        .specs
                        .iter()
                        .filter(|s| s.project == *id && filter(s))
                        .collect();
                    let count = |st: DefectStatus| rows.iter().filter(|r| r.status == st).count();
                    json!({
                        "project": { "id": id.to_string(), "title": title },
                        "total": rows.len(),
                        "open": rows.iter().filter(|r| r.open()).count(),
                        "closed": count(DefectStatus::Closed),
                        "cancelled": count(DefectStatus::Cancelled),
                        "overdue": rows.iter().filter(|r| r.overdue(data.today)).count(),
                        "byStatus": by_status(&rows),
                        "avgResolutionHours": avg_hours(&rows),
                    })
                })
                .collect()
        };
        // The observer is a member of nothing and still sees every project.
        for viewer in [&data.manager, &data.observer] {
            let got = app.ok(viewer, BY_PROJECT, json!({})).await["reports"]["byProject"].clone();
            let want = expected(&|_| true);
            assert_eq!(got.as_array().unwrap().len(), 3);
            for (g, w) in got.as_array().unwrap().iter().zip(want.as_array().unwrap()) {
                assert_report(g.clone(), w.clone(), app.backend);
            }
        }
        let alpha = &app.ok(&data.manager, BY_PROJECT, json!({})).await["reports"]["byProject"][0];
        assert_eq!(
            (
                &alpha["project"]["title"],
                &alpha["total"],
                &alpha["open"],
                &alpha["overdue"]
            ),
            (&json!("Alpha"), &json!(6), &json!(4), &json!(3))
        );
        let charlie =
            &app.ok(&data.manager, BY_PROJECT, json!({})).await["reports"]["byProject"][2];
        assert_eq!(
            (&charlie["total"], &charlie["avgResolutionHours"]),
            (&json!(0), &Value::Null)
        );

        // A date window narrows the counts but keeps every project.
        let from = data.rows[3].created_at;
        let got = app
            .ok(
                &data.manager,
                BY_PROJECT,
                json!({ "f": { "from": from.to_rfc3339() } }),
            )
            .await["reports"]["byProject"]
            .clone();
        let want = expected(&|s| s.created_at >= from);
        for (g, w) in got.as_array().unwrap().iter().zip(want.as_array().unwrap()) {
            assert_report(g.clone(), w.clone(), app.backend);
        }
        // A project filter reports on that project only.
        let bravo = data.projects[1].0;
        let got = app
            .ok(
                &data.manager,
                BY_PROJECT,
                json!({ "f": { "projectId": bravo.to_string() } }),
            )
            .await["reports"]["byProject"]
            .clone();
        assert_eq!(got.as_array().unwrap().len(), 1);
        assert_report(got[0].clone(), expected(&|_| true)[1].clone(), app.backend);
    }
}

#[tokio::test]
async fn by_engineer_lists_active_engineers_by_username_with_zeros() {
    for app in apps().await {
        let data = dataset(&app).await;
        let mut active: Vec<&Actor> = data.engineers[..3].iter().collect();
        active.sort_by(|a, b| a.username.cmp(&b.username));
        let expected = |filter: &dyn Fn(&Spec) -> bool| -> Value {
            active
                .iter()
                .map(|e| {
                    let rows: Vec<&Spec> = data
                        .specs
                        .iter()
                        .filter(|s| s.performer == Some(e.id) && filter(s))
                        .collect();
                    let count = |st: DefectStatus| rows.iter().filter(|r| r.status == st).count();
                    json!({
                        "engineer": { "id": e.gid(), "username": e.username },
                        "assigned": rows.len(),
                        "open": rows.iter().filter(|r| r.open()).count(),
                        "inReview": count(DefectStatus::Review),
                        "closed": count(DefectStatus::Closed),
                        "overdue": rows.iter().filter(|r| r.overdue(data.today)).count(),
                        "avgResolutionHours": avg_hours(&rows),
                    })
                })
                .collect()
        };
        let check = |got: Value, want: Value| {
            let (got, want) = (
                got.as_array().unwrap().clone(),
                want.as_array().unwrap().clone(),
            );
            assert_eq!(
                got.len(),
                3,
                "[{}] the inactive engineer is left out",
                app.backend
            );
            for (g, w) in got.into_iter().zip(want) {
                assert_report(g, w, app.backend);
            }
        };
        let got =
            app.ok(&data.observer, BY_ENGINEER, json!({})).await["reports"]["byEngineer"].clone();
        check(got.clone(), expected(&|_| true));
        let e1 = got
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["engineer"]["id"] == data.engineers[0].gid())
            .unwrap();
        assert_eq!(
            (
                &e1["assigned"],
                &e1["open"],
                &e1["inReview"],
                &e1["closed"],
                &e1["overdue"]
            ),
            (&json!(4), &json!(2), &json!(1), &json!(2), &json!(1))
        );
        assert!((e1["avgResolutionHours"].as_f64().unwrap() - 17.0).abs() < 1e-6);
        let idle = got
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["engineer"]["id"] == data.engineers[2].gid())
            .unwrap();
        assert_eq!(
            (&idle["assigned"], &idle["avgResolutionHours"]),
            (&json!(0), &Value::Null)
        );

        let bravo = data.projects[1].0;
        let got = app
            .ok(
                &data.manager,
                BY_ENGINEER,
                json!({ "f": { "projectId": bravo.to_string() } }),
            )
            .await["reports"]["byEngineer"]
            .clone();
        check(got, expected(&|s| s.project == bravo));
        let to = data.rows[5].created_at;
        let got = app
            .ok(
                &data.manager,
                BY_ENGINEER,
                json!({ "f": { "to": to.to_rfc3339() } }),
            )
            .await["reports"]["byEngineer"]
            .clone();
        check(got, expected(&|s| s.created_at <= to));
    }
}
