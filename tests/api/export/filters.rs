//! Every filter parameter of the export, against rows selected here in Rust, and the
//! 400 answers for values that do not parse.
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use defect_control::entities::{
    defects,
    enums::{DefectStatus, Priority},
};

use super::{dataset, fetch, open};
use crate::helpers::apps;

#[tokio::test]
async fn every_filter_parameter_selects_the_same_rows_as_computed_here() {
    for app in apps().await {
        let data = dataset(&app).await;
        let r = &data.rows;
        let today = data.today;
        let mid = r[4].created_at;
        let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        let overdue = |d: &defects::Model| open(d) && d.deadline.is_some_and(|x| x < today);
        let has = |d: &defects::Model, s: &[DefectStatus]| s.contains(&d.status);
        use DefectStatus::*;
        type Case<'a> = (Vec<(&'a str, String)>, Vec<i32>);
        let cases: Vec<Case> = vec![
            (vec![], data.ids(|_| true)),
            (
                vec![("project", data.p2.to_string())],
                data.ids(|d| d.project_id == data.p2),
            ),
            (
                vec![("stage", data.s1.to_string())],
                data.ids(|d| d.stage_id == Some(data.s1)),
            ),
            (
                vec![("performer", data.engineer.gid())],
                data.ids(|d| d.performer_id == Some(data.engineer.id)),
            ),
            (
                vec![("author", data.engineer.gid())],
                data.ids(|d| d.author_id == data.engineer.id),
            ),
            (
                vec![("status", "new,in_progress".into())],
                data.ids(|d| has(d, &[New, InProgress])),
            ),
            (
                vec![("status", "review".into()), ("status", "closed".into())],
                data.ids(|d| has(d, &[Review, Closed])),
            ),
            (
                vec![
                    ("status", "cancelled, NEW".into()),
                    ("status", "review".into()),
                ],
                data.ids(|d| has(d, &[Cancelled, New, Review])),
            ),
            (
                vec![("priority", "high,low".into())],
                data.ids(|d| d.priority != Priority::Medium),
            ),
            (
                vec![("created_from", stamp(mid))],
                data.ids(|d| d.created_at >= mid),
            ),
            (
                vec![("created_to", stamp(mid))],
                data.ids(|d| d.created_at <= mid),
            ),
            (
                vec![("created_from", stamp(mid)), ("created_to", stamp(mid))],
                data.ids(|d| d.created_at == mid),
            ),
            (
                vec![(
                    "created_to",
                    mid.with_timezone(&chrono::FixedOffset::east_opt(3 * 3600).unwrap())
                        .to_rfc3339(),
                )],
                data.ids(|d| d.created_at <= mid),
            ),
            (
                vec![("deadline_from", today.to_string())],
                data.ids(|d| d.deadline.is_some_and(|x| x >= today)),
            ),
            (
                vec![("deadline_to", today.to_string())],
                data.ids(|d| d.deadline.is_some_and(|x| x <= today)),
            ),
            (vec![("overdue", "true".into())], data.ids(overdue)),
            (vec![("overdue", "false".into())], data.ids(|d| !overdue(d))),
            (
                vec![("search", "трещина".into())],
                data.ids(|d| d.title.to_lowercase().contains("трещина")),
            ),
            (
                vec![("search", "запятой".into())],
                data.ids(|d| d.description.contains("запятой")),
            ),
            (
                vec![
                    ("project", data.p2.to_string()),
                    ("status", "new,in_progress,review".into()),
                    ("overdue", "false".into()),
                ],
                data.ids(|d| d.project_id == data.p2 && open(d) && !overdue(d)),
            ),
            (
                vec![("search", "трещина".into()), ("bom", "false".into())],
                data.ids(|d| d.title.to_lowercase().contains("трещина")),
            ),
        ];
        for (params, expected) in cases {
            let got = fetch(&app, Some(&data.admin.token), &params).await.ids();
            assert_eq!(got, expected, "[{}] {params:?}", app.backend);
        }
        // The cases above are not vacuous.
        let t = Some(data.admin.token.as_str());
        let search = fetch(&app, t, &[("search", "ТРЕЩИНА".into())]).await;
        assert_eq!(search.ids().len(), 2, "Cyrillic search folds case");
        assert!(!data.ids(overdue).is_empty());
        let none = fetch(&app, t, &[("project", "999999".into())]).await;
        assert_eq!(
            none.table().1.len(),
            0,
            "a header alone when nothing matches"
        );
    }
}

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter() {
    for app in apps().await {
        let data = dataset(&app).await;
        let cases: [(&str, &str); 11] = [
            ("project", "abc"),
            ("stage", "0"),
            ("performer", "1 OR 1=1"),
            ("status", "new,done"),
            ("priority", "urgent"),
            ("created_from", "2026-11-01"),
            ("created_to", "not a time"),
            ("deadline_from", "2026-02-30"),
            ("deadline_to", "26.11.2026"),
            ("overdue", "maybe"),
            ("bom", "1"),
        ];
        for (key, value) in cases {
            let res = fetch(&app, Some(&data.manager.token), &[(key, value.into())]).await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{key}={value}");
            let body = res.json();
            assert_eq!(body["error"]["code"], "BAD_USER_INPUT", "{body}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.starts_with(&format!("{key}:")), "{message}");
        }
        for params in [
            vec![("project", "1".to_owned()), ("project", "2".to_owned())],
            vec![("unknown", "1".to_owned())],
        ] {
            let res = fetch(&app, Some(&data.manager.token), &params).await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{params:?}");
            assert_eq!(res.json()["error"]["code"], "BAD_USER_INPUT");
        }
    }
}
