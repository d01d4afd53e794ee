//! Filtering, ordering, search and keyset paging of `defects`, checked against
//! expectations computed here in Rust from the rows themselves.
use std::cmp::Ordering as Cmp;

use chrono::{Duration, NaiveDate, Utc};
use defect_control::entities::{
    defects,
    enums::{DefectStatus, Priority, Role},
};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::{
    builders::DefectBuilder,
    helpers::{Actor, TestApp, apps, outcome},
};

const TITLES: [&str; 14] = [
    "Трещина в стяжке",
    "трещина у окна",
    "Missing fire seal",
    "50% of tiles loose",
    "500 tiles delivered",
    "under_score",
    "underXscore",
    "Water LEAK in basement",
    "Leak at roof drain",
    "Crack in column C2",
    "ТРЕЩИНА в колонне",
    "Paint peeling",
    "Door frame misaligned",
    "Rebar exposed",
];

struct Data {
    manager: Actor,
    e1: Actor,
    p1: i32,
    p2: i32,
    s1: i32,
    rows: Vec<defects::Model>,
    today: NaiveDate,
}

async fn dataset(app: &TestApp) -> Data {
    let admin = app.actor(Role::Admin).await;
    let manager = app.actor(Role::Manager).await;
    let e1 = app.actor(Role::Engineer).await;
    let e2 = app.actor(Role::Engineer).await;
    let p1 = app.project(&admin, "P1").await.id;
    let p2 = app.project(&admin, "P2").await.id;
    app.add_member(p1, e1.id).await;
    app.add_member(p2, e1.id).await;
    app.add_member(p1, e2.id).await;
    let s1 = app.stage(p1, "S1").await.id;
    let s2 = app.stage(p1, "S2").await.id;
    let s3 = app.stage(p2, "S3").await.id;
    let today = Utc::now().date_naive();
    let base = defect_control::time::now() - Duration::days(10);
    let statuses = [
        DefectStatus::New,
        DefectStatus::InProgress,
        DefectStatus::Review,
        DefectStatus::Closed,
        DefectStatus::Cancelled,
    ];
    let mut rows = Vec::new();
    for (i, title) in TITLES.iter().enumerate() {
        let in_p2 = i % 3 == 2;
        let project = if in_p2 { p2 } else { p1 };
        let stage = match (in_p2, i % 4) {
            (false, 0) => Some(s1),
            (false, 1) => Some(s2),
            (true, 0 | 2) => Some(s3),
            _ => None,
        };
        let status = statuses[i % 5];
        let performer = match (i % 3, in_p2) {
            (1, _) => Some(e1.id),
            (2, false) => Some(e2.id),
            (2, true) => Some(e1.id),
            _ => None,
        };
        let performer = performer.or((status != DefectStatus::New
            && status != DefectStatus::Cancelled)
            .then_some(e1.id));
        let deadline = match i % 4 {
            0 => None,
            1 => Some(today - Duration::days(3)),
            2 => Some(today),
            _ => Some(today + Duration::days(5)),
        };
        let author = if i % 4 == 3 { &e1 } else { &manager };
        // Spread creation over days, with one exact tie (rows 5 and 6) to exercise the id tiebreak.
        let offset = if i == 6 { 5 } else { i as i64 };
        let defect = DefectBuilder::new(project, author, &manager)
            .stage(stage)
            .title(title)
            .description((i == 8).then(|| "Трещина рядом".into()))
            .priority([Priority::Low, Priority::Medium, Priority::High][i % 3])
            .deadline(deadline)
            .performer(performer)
            .status(status)
            .created_at(base + Duration::hours(offset * 7))
            .create(app)
            .await;
        rows.push(defect);
    }
    Data {
        manager,
        e1,
        p1,
        p2,
        s1,
        rows,
        today,
    }
}

const LIST: &str = r"
    query($f: DefectFilter, $o: DefectOrder, $a: String) {
      defects(filter: $f, orderBy: $o, first: 4, after: $a) {
        totalCount
        edges { cursor node { id } }
        pageInfo { hasNextPage endCursor }
      }
    }
";

/// Every id over all pages, in order; also checks totalCount.
async fn walk(app: &TestApp, actor: &Actor, filter: Value, order: Value) -> Vec<i32> {
    let mut ids = Vec::new();
    let mut after = Value::Null;
    let mut total = None;
    loop {
        let data = app
            .ok(actor, LIST, json!({ "f": filter, "o": order, "a": after }))
            .await;
        let conn = &data["defects"];
        total = total.or(conn["totalCount"].as_i64());
        for e in conn["edges"].as_array().unwrap() {
            ids.push(e["node"]["id"].as_str().unwrap().parse().unwrap());
        }
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(
        total,
        Some(ids.len() as i64),
        "totalCount matches the rows walked"
    );
    ids
}

fn sorted_ids(rows: &[&defects::Model]) -> Vec<i32> {
    let mut ids: Vec<i32> = rows.iter().map(|d| d.id).collect();
    ids.sort();
    ids
}

fn open(d: &defects::Model) -> bool {
    !d.status.is_final()
}

#[tokio::test]
async fn every_filter_alone_and_combined_matches_the_rows() {
    for app in apps().await {
        let data = dataset(&app).await;
        let r = &data.rows;
        let m = &data.manager;
        let pick = |f: &dyn Fn(&defects::Model) -> bool| {
            sorted_ids(&r.iter().filter(|d| f(d)).collect::<Vec<_>>())
        };
        let tie = r[5].created_at.to_rfc3339();
        let today = data.today;
        let cases: Vec<(Value, Vec<i32>)> = vec![
            (json!({}), pick(&|_| true)),
            (
                json!({ "projectId": data.p2.to_string() }),
                pick(&|d| d.project_id == data.p2),
            ),
            (
                json!({ "stageId": data.s1.to_string() }),
                pick(&|d| d.stage_id == Some(data.s1)),
            ),
            (
                json!({ "performerId": data.e1.gid() }),
                pick(&|d| d.performer_id == Some(data.e1.id)),
            ),
            (
                json!({ "authorId": data.e1.gid() }),
                pick(&|d| d.author_id == data.e1.id),
            ),
            (
                json!({ "status": ["REVIEW", "CLOSED"] }),
                pick(&|d| matches!(d.status, DefectStatus::Review | DefectStatus::Closed)),
            ),
            (json!({ "status": [] }), pick(&|_| true)),
            (
                json!({ "priority": ["HIGH"] }),
                pick(&|d| d.priority == Priority::High),
            ),
            (
                json!({ "createdFrom": tie }),
                pick(&|d| d.created_at >= r[5].created_at),
            ),
            (
                json!({ "createdTo": tie }),
                pick(&|d| d.created_at <= r[5].created_at),
            ),
            (
                json!({ "createdFrom": tie, "createdTo": tie }),
                pick(&|d| d.created_at == r[5].created_at),
            ),
            (
                json!({ "deadlineFrom": today.to_string() }),
                pick(&|d| d.deadline.is_some_and(|x| x >= today)),
            ),
            (
                json!({ "deadlineTo": today.to_string() }),
                pick(&|d| d.deadline.is_some_and(|x| x <= today)),
            ),
            (
                json!({ "deadlineFrom": today.to_string(), "deadlineTo": today.to_string() }),
                pick(&|d| d.deadline == Some(today)),
            ),
            (
                json!({ "overdue": true }),
                pick(&|d| open(d) && d.deadline.is_some_and(|x| x < today)),
            ),
            (
                json!({ "overdue": false }),
                pick(&|d| !(open(d) && d.deadline.is_some_and(|x| x < today))),
            ),
            (
                json!({ "search": "трещина" }),
                pick(&|d| {
                    d.title.to_lowercase().contains("трещина")
                        || d.description.to_lowercase().contains("трещина")
                }),
            ),
            (
                json!({ "search": "LEAK" }),
                pick(&|d| d.title.to_lowercase().contains("leak")),
            ),
            (
                json!({ "search": "50%" }),
                pick(&|d| d.title.contains("50%")),
            ),
            (
                json!({ "search": "under_" }),
                pick(&|d| d.title.contains("under_")),
            ),
            (
                json!({ "projectId": data.p1.to_string(), "status": ["NEW", "IN_PROGRESS"] }),
                pick(&|d| {
                    d.project_id == data.p1
                        && matches!(d.status, DefectStatus::New | DefectStatus::InProgress)
                }),
            ),
            (
                json!({ "priority": ["LOW", "MEDIUM"], "overdue": false, "performerId": data.e1.gid() }),
                pick(&|d| {
                    d.priority != Priority::High
                        && !(open(d) && d.deadline.is_some_and(|x| x < today))
                        && d.performer_id == Some(data.e1.id)
                }),
            ),
            (
                json!({ "search": "трещина", "projectId": data.p1.to_string() }),
                pick(&|d| {
                    d.project_id == data.p1
                        && (d.title.to_lowercase().contains("трещина")
                            || d.description.to_lowercase().contains("трещина"))
                }),
            ),
            (json!({ "projectId": "1 OR 1=1" }), vec![]),
            (json!({ "performerId": "999999" }), vec![]),
        ];
        for (filter, expected) in cases {
            let mut got = walk(&app, m, filter.clone(), Value::Null).await;
            got.sort();
            assert_eq!(got, expected, "[{}] filter {filter}", app.backend);
        }
        // The Cyrillic search is case-insensitive both ways and finds 4 (3 titles, 1 description).
        assert_eq!(
            walk(&app, m, json!({ "search": "ТРЕЩИНА" }), Value::Null)
                .await
                .len(),
            4
        );
        // The engineer sees the same filter through their visibility only.
        let e1_all = walk(&app, &data.e1, json!({}), Value::Null).await;
        assert_eq!(e1_all.len(), r.len(), "e1 is a member of both projects");
    }
}

fn cmp_key(a: &defects::Model, b: &defects::Model, field: &str) -> Cmp {
    match field {
        "CREATED_AT" => a.created_at.cmp(&b.created_at),
        "UPDATED_AT" => a.updated_at.cmp(&b.updated_at),
        "PRIORITY" => a.priority.cmp(&b.priority),
        "STATUS" => a.status.cmp(&b.status),
        "TITLE" => a.title.cmp(&b.title),
        _ => unreachable!(),
    }
}

fn expected_order(rows: &[defects::Model], field: &str, desc: bool) -> Vec<i32> {
    let mut v: Vec<&defects::Model> = rows.iter().collect();
    v.sort_by(|a, b| {
        let dir = |c: Cmp| if desc { c.reverse() } else { c };
        if field == "DEADLINE" {
            // Without a deadline: last, in both directions.
            match (a.deadline, b.deadline) {
                (None, Some(_)) => return Cmp::Greater,
                (Some(_), None) => return Cmp::Less,
                (Some(x), Some(y)) if x != y => return dir(x.cmp(&y)),
                _ => return dir(a.id.cmp(&b.id)),
            }
        }
        dir(cmp_key(a, b, field).then(a.id.cmp(&b.id)))
    });
    v.iter().map(|d| d.id).collect()
}

#[tokio::test]
async fn every_order_both_ways_pages_stably() {
    for app in apps().await {
        let data = dataset(&app).await;
        // Re-read: updated_at moved with the workflow.
        let rows = defects::Entity::find().all(app.db()).await.unwrap();
        for field in [
            "CREATED_AT",
            "UPDATED_AT",
            "DEADLINE",
            "PRIORITY",
            "STATUS",
            "TITLE",
        ] {
            for (dir, desc) in [("ASC", false), ("DESC", true)] {
                let got = walk(
                    &app,
                    &data.manager,
                    Value::Null,
                    json!({ "field": field, "direction": dir }),
                )
                .await;
                assert_eq!(
                    got,
                    expected_order(&rows, field, desc),
                    "[{}] {field} {dir}",
                    app.backend
                );
            }
        }
        // Default: newest first; the direction defaults to DESC.
        let default = walk(&app, &data.manager, Value::Null, Value::Null).await;
        assert_eq!(default, expected_order(&rows, "CREATED_AT", true));
        let implied = walk(
            &app,
            &data.manager,
            Value::Null,
            json!({ "field": "CREATED_AT" }),
        )
        .await;
        assert_eq!(implied, default);
        // A cursor from one order is refused by another, not misread.
        let first = app
            .ok(
                &data.manager,
                LIST,
                json!({ "o": { "field": "TITLE", "direction": "ASC" } }),
            )
            .await;
        let cursor = first["defects"]["pageInfo"]["endCursor"].clone();
        let body = app
            .gql(
                Some(&data.manager.token),
                LIST,
                json!({ "o": { "field": "CREATED_AT" }, "a": cursor }),
            )
            .await;
        assert_eq!(outcome(&body), "BAD_USER_INPUT");
    }
}

#[tokio::test]
async fn paging_while_defects_are_added_never_repeats_or_skips() {
    for app in apps().await {
        let data = dataset(&app).await;
        let m = &data.manager;
        let mut seen = Vec::new();
        let mut after = Value::Null;
        let mut page = 0;
        loop {
            let d = app.ok(m, LIST, json!({ "a": after })).await;
            for e in d["defects"]["edges"].as_array().unwrap() {
                seen.push(e["node"]["id"].as_str().unwrap().parse::<i32>().unwrap());
            }
            page += 1;
            if page == 1 {
                // New rows are newest: they sort before the cursor and must not appear.
                for t in ["late 1", "late 2"] {
                    DefectBuilder::new(data.p1, m, m)
                        .title(t)
                        .create(&app)
                        .await;
                }
            }
            if d["defects"]["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = d["defects"]["pageInfo"]["endCursor"].clone();
        }
        let mut original: Vec<i32> = data.rows.iter().map(|d| d.id).collect();
        original.sort();
        let mut got = seen.clone();
        got.sort();
        assert_eq!(got, original, "every original row exactly once");
    }
}

#[tokio::test]
async fn is_overdue_and_dates_round_trip_exactly() {
    for app in apps().await {
        let data = dataset(&app).await;
        let q = r"
            query($id: ID!) {
              defect(id: $id) { isOverdue deadline createdAt status }
            }
        ";
        for row in &data.rows {
            let d = app
                .ok(&data.manager, q, json!({ "id": row.id.to_string() }))
                .await["defect"]
                .clone();
            let expected = open(row) && row.deadline.is_some_and(|x| x < data.today);
            assert_eq!(d["isOverdue"], expected, "{}", row.title);
            assert_eq!(
                d["deadline"],
                row.deadline.map_or(Value::Null, |x| json!(x.to_string()))
            );
            let created =
                chrono::DateTime::parse_from_rfc3339(d["createdAt"].as_str().unwrap()).unwrap();
            assert_eq!(
                created, row.created_at,
                "timestamps keep their stored precision"
            );
        }
    }
}
