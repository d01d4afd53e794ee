//! Handover documents without the PDF: the XLSX export read back by `calamine`, and
//! document jobs — states and progress through the query and the subscription, the
//! signed download read back (csv crate, calamine), the limits (roles, 3 per user, a
//! race of requests), visibility, a job left by a dead instance run by another, and
//! the expiry of the file.
use std::{io::Cursor, time::Duration};

use calamine::{Data, DataType, Reader, Xlsx};
use chrono::NaiveDate;
use defect_control::{
    auth::viewer::{Auth, BearerToken},
    engine::jobs,
    entities::{
        document_jobs,
        enums::{Priority, Role},
    },
};
use futures_util::StreamExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set, sea_query::Expr};
use serde_json::{Value, json};

use crate::{
    builders::DefectBuilder,
    export::{HEADER, fetch},
    helpers::{Actor, TestApp, apps},
};

struct Site {
    admin: Actor,
    manager: Actor,
}

/// A project with three defects (one with a deadline, one HIGH).
async fn site(app: &TestApp) -> Site {
    let admin = app.actor(Role::Admin).await;
    let manager = app.actor(Role::Manager).await;
    let p = app.project(&manager, "Корпус 1").await;
    for (i, title) in ["Трещина", "=SUM(A1)", "Скол"].iter().enumerate() {
        DefectBuilder::new(p.id, &manager, &manager)
            .title(title)
            .priority(if i == 1 {
                Priority::High
            } else {
                Priority::Low
            })
            .deadline((i == 0).then(|| NaiveDate::from_ymd_opt(2027, 3, 15).unwrap()))
            .create(app)
            .await;
    }
    Site { admin, manager }
}

fn sheet(bytes: &[u8]) -> Vec<Vec<Data>> {
    let mut book = Xlsx::new(Cursor::new(bytes.to_vec())).expect("an XLSX calamine reads");
    let range = book
        .worksheet_range("defects")
        .expect("the sheet 'defects'");
    range.rows().map(<[Data]>::to_vec).collect()
}

/// A part of the XLSX package, as text.
fn part(bytes: &[u8], name: &str) -> String {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
    let mut out = String::new();
    zip.by_name(name).unwrap().read_to_string(&mut out).unwrap();
    out
}

fn texts(row: &[Data]) -> Vec<String> {
    row.iter().map(|c| c.to_string()).collect()
}

#[tokio::test]
async fn the_xlsx_export_is_the_csvs_rows_typed() {
    for app in apps().await {
        let s = site(&app).await;
        let t = Some(s.manager.token.as_str());
        let got = fetch(&app, t, &[("format", "xlsx".into())]).await;
        assert_eq!(got.status, 200, "[{}]", app.backend);
        assert_eq!(
            got.headers["content-type"],
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        let rows = sheet(&got.bytes);
        assert_eq!(
            texts(&rows[0]),
            HEADER,
            "[{}] the machine header",
            app.backend
        );
        assert_eq!(rows.len(), 4, "[{}] header + 3 rows", app.backend);
        // A frozen header row with an autofilter over the rows, in bold (the only bold style).
        let xml = part(&got.bytes, "xl/worksheets/sheet1.xml");
        assert!(
            xml.contains(r#"ySplit="1""#) && xml.contains(r#"state="frozen""#),
            "{xml}"
        );
        assert!(xml.contains(r#"<autoFilter ref="A1:R4"/>"#), "{xml}");
        assert!(part(&got.bytes, "xl/styles.xml").contains("<b/>"));
        let csv = fetch(&app, t, &[]).await.table().1;
        for (row, rec) in rows[1..].iter().zip(&csv) {
            assert!(
                matches!(row[1], Data::Float(_)),
                "id is a number: {:?}",
                row[1]
            );
            assert_eq!(row[1].to_string(), rec[1]);
            assert!(row[11].is_datetime(), "created_at is a date: {:?}", row[11]);
            let created = row[11].as_datetime().unwrap();
            assert_eq!(
                created.format("%Y-%m-%dT%H:%M:%S").to_string(),
                rec[11][..19]
            );
            assert_eq!(
                row[4].to_string().trim_start_matches('\''),
                rec[4].trim_start_matches('\'')
            );
        }
        // The formula-looking title is a string cell, not neutralised: XLSX text never evaluates.
        assert!(
            rows[1..]
                .iter()
                .any(|r| r[4] == Data::String("=SUM(A1)".into()))
        );
        let deadline = rows[1..]
            .iter()
            .find(|r| !matches!(r[10], Data::Empty))
            .unwrap();
        assert!(deadline[10].is_datetime(), "{:?}", deadline[10]);
        assert_eq!(
            deadline[10].as_datetime().unwrap().date(),
            NaiveDate::from_ymd_opt(2027, 3, 15).unwrap()
        );

        // The human form: the CSV's Russian header and values.
        let ru = sheet(
            &fetch(&app, t, &[("format", "xlsx".into()), ("lang", "ru".into())])
                .await
                .bytes,
        );
        let ru_csv = fetch(&app, t, &[("lang", "ru".into())])
            .await
            .table_with(b';');
        assert_eq!(texts(&ru[0]), ru_csv.0);
        assert_eq!(ru[0][0].to_string(), "Ключ");
        assert_eq!(ru[1][7].to_string(), ru_csv.1[0][7], "status in Russian");
        // A filter applies as in the CSV.
        let high = sheet(
            &fetch(
                &app,
                t,
                &[("format", "xlsx".into()), ("priority", "high".into())],
            )
            .await
            .bytes,
        );
        assert_eq!(high.len(), 2);

        let bad = fetch(&app, t, &[("format", "ods".into())]).await;
        assert_eq!(
            (bad.status.as_u16(), bad.json()["error"]["code"].clone()),
            (400, json!("BAD_USER_INPUT"))
        );
        let eng = app.actor(Role::Engineer).await;
        let refused = fetch(&app, Some(&eng.token), &[("format", "xlsx".into())]).await;
        assert_eq!(refused.status.as_u16(), 403);
    }
}

const REQUEST: &str = "mutation($f: DocumentFormat!, $l: String, $filter: DefectFilter) {
  requestDocument(format: $f, lang: $l, filter: $filter) { id status progress rows url }
}";
const JOB: &str = "query($id: ID!) {
  documentJob(id: $id) { id format status progress rows url error requestedBy { id } finishedAt }
}";

async fn request(app: &TestApp, who: &Actor, format: &str, lang: Option<&str>) -> Value {
    app.ok(who, REQUEST, json!({ "f": format, "l": lang }))
        .await["requestDocument"]
        .clone()
}

async fn job(app: &TestApp, who: &Actor, id: &Value) -> Value {
    app.ok(who, JOB, json!({ "id": id })).await["documentJob"].clone()
}

/// The file behind a job's url (no token: the link is the permission), byte for byte.
async fn download(app: &TestApp, url: &str) -> (u16, Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::get(url)
        .body(axum::body::Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, bytes)
}

fn subscribe(
    app: &TestApp,
    who: &Actor,
    id: &Value,
) -> futures_util::stream::BoxStream<'static, async_graphql::Response> {
    let schema = defect_control::graphql::build_schema(Some(app.state.clone()));
    let req = async_graphql::Request::new(
        "subscription($id: ID!) { documentJob(id: $id) { status progress rows url } }",
    )
    .variables(async_graphql::Variables::from_json(json!({ "id": id })))
    .data(Auth::Authenticated(who.viewer()))
    .data(BearerToken(who.token.clone()));
    schema.execute_stream(req).boxed()
}

#[tokio::test]
async fn a_csv_job_runs_to_done_seen_by_the_query_and_the_subscription() {
    for app in apps().await {
        let s = site(&app).await;
        let queued = request(&app, &s.manager, "CSV", None).await;
        assert_eq!(
            (
                queued["status"].clone(),
                queued["rows"].clone(),
                queued["url"].clone()
            ),
            (json!("QUEUED"), Value::Null, Value::Null)
        );
        let id = queued["id"].clone();
        let mut live = subscribe(&app, &s.manager, &id);
        let first = tokio::time::timeout(Duration::from_secs(5), live.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            first.data.into_json().unwrap()["documentJob"]["status"],
            "QUEUED"
        );
        app.pump().await;
        let mut seen = Vec::new();
        while let Some(r) = tokio::time::timeout(Duration::from_secs(5), live.next())
            .await
            .expect("the subscription moves or ends")
        {
            assert!(r.errors.is_empty(), "{:?}", r.errors);
            seen.push(r.data.into_json().unwrap()["documentJob"].clone());
        }
        let last = seen.last().expect("the final state");
        assert_eq!(
            (
                last["status"].clone(),
                last["progress"].clone(),
                last["rows"].clone()
            ),
            (json!("DONE"), json!(1.0), json!(3)),
            "[{}] {seen:?}",
            app.backend
        );
        assert_eq!(
            seen.iter().filter(|s| s["status"] == "DONE").count(),
            1,
            "the final state once"
        );

        let done = job(&app, &s.manager, &id).await;
        assert_eq!(
            (
                done["status"].clone(),
                done["rows"].clone(),
                done["error"].clone()
            ),
            (json!("DONE"), json!(3), Value::Null)
        );
        assert!(done["finishedAt"].is_string());
        let url = done["url"].as_str().expect("a url when DONE");
        let (status, bytes) = download(&app, url).await;
        assert_eq!(status, 200);
        let mut r = csv::Reader::from_reader(bytes.as_slice());
        assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), HEADER);
        assert_eq!(r.records().count(), 3);
        // A tampered link opens nothing.
        let (status, _) = download(&app, &url.replace("sig=", "sig=0")).await;
        assert_eq!(status, 403);
    }
}

#[tokio::test]
async fn an_xlsx_job_in_russian_downloads_as_a_sheet_and_a_pdf_job_as_a_pdf() {
    for app in apps().await {
        let s = site(&app).await;
        let id = request(&app, &s.manager, "XLSX", Some("ru")).await["id"].clone();
        let pdf = request(&app, &s.manager, "PDF", None).await["id"].clone();
        app.pump().await;
        let done = job(&app, &s.manager, &id).await;
        assert_eq!(done["status"], "DONE", "[{}] {done}", app.backend);
        let (status, bytes) = download(&app, done["url"].as_str().unwrap()).await;
        assert_eq!(status, 200);
        let rows = sheet(&bytes);
        assert_eq!((rows.len(), rows[0][0].to_string()), (4, "Ключ".to_owned()));
        // The PDF job runs the handover renderer: read back with poppler's pdftotext.
        let made = job(&app, &s.manager, &pdf).await;
        assert_eq!(
            (
                made["status"].clone(),
                made["rows"].clone(),
                made["progress"].clone()
            ),
            (json!("DONE"), json!(3), json!(1.0)),
            "[{}] {made}",
            app.backend
        );
        let (status, bytes) = download(&app, made["url"].as_str().unwrap()).await;
        assert_eq!(status, 200);
        assert!(bytes.starts_with(b"%PDF"));
        let text = crate::handover::text(&bytes);
        for title in ["Трещина", "=SUM(A1)", "Скол"] {
            assert!(text.contains(title), "[{}] {title} missing", app.backend);
        }
    }
}

#[tokio::test]
async fn limits_roles_and_visibility() {
    for app in apps().await {
        let s = site(&app).await;
        let other = app.actor(Role::Manager).await;
        let eng = app.actor(Role::Engineer).await;
        let vars = |f: &str| json!({ "f": f });
        assert_eq!(
            app.code(Some(&eng.token), REQUEST, vars("CSV")).await,
            "FORBIDDEN"
        );
        assert_eq!(
            app.code(
                Some(&s.manager.token),
                REQUEST,
                json!({ "f": "CSV", "l": "fr" })
            )
            .await,
            "BAD_USER_INPUT"
        );
        assert_eq!(
            app.code(
                Some(&s.manager.token),
                REQUEST,
                json!({ "f": "CSV", "filter": { "search": "x".repeat(1000) } })
            )
            .await,
            "BAD_USER_INPUT"
        );
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(request(&app, &s.manager, "CSV", None).await["id"].clone());
        }
        assert_eq!(
            app.code(Some(&s.manager.token), REQUEST, vars("XLSX"))
                .await,
            "RATE_LIMITED"
        );
        assert_eq!(
            app.count("document_jobs").await,
            3,
            "the refused request wrote nothing"
        );
        assert_eq!(app.count("jobs").await, 3);

        // Someone else's job is null; an admin's view is anyone's.
        assert_eq!(job(&app, &other, &ids[0]).await, Value::Null);
        assert_eq!(job(&app, &s.admin, &ids[0]).await["status"], "QUEUED");
        assert_eq!(job(&app, &s.manager, &json!("nope")).await, Value::Null);
        let mine = "query { myDocumentJobs(first: 2) { id } }";
        let listed = app.ok(&s.manager, mine, json!({})).await["myDocumentJobs"].clone();
        assert_eq!(
            listed,
            json!([{ "id": ids[2] }, { "id": ids[1] }]),
            "newest first"
        );
        assert_eq!(
            app.ok(&eng, mine, json!({})).await["myDocumentJobs"],
            json!([])
        );

        // Done jobs no longer count; a burst of requests through two instances at
        // once passes the limit no further.
        app.pump().await;
        let twin = app.twin().await;
        let burst = (0..8).map(|i| {
            let a = if i % 2 == 0 { &app } else { &twin };
            a.gql(Some(&other.token), REQUEST, json!({ "f": "CSV" }))
        });
        let answers = futures_util::future::join_all(burst).await;
        let ok = answers.iter().filter(|b| b.get("errors").is_none()).count();
        let limited = answers
            .iter()
            .filter(|b| b["errors"][0]["extensions"]["code"] == "RATE_LIMITED")
            .count();
        assert_eq!((ok, limited), (3, 5), "[{}] {answers:?}", app.backend);
        drop(twin);
    }
}

async fn doc_row(app: &TestApp, id: &Value) -> document_jobs::Model {
    let id: i64 = id.as_str().unwrap().parse().unwrap();
    document_jobs::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_job_whose_instance_died_is_run_once_by_another() {
    for app in apps().await {
        let s = site(&app).await;
        let id = request(&app, &s.manager, "CSV", None).await["id"].clone();
        // The first instance takes the job, then dies without a word.
        let taken = jobs::claim(app.db(), "document", Duration::from_secs(30), 5)
            .await
            .unwrap();
        assert_eq!(taken.len(), 1);
        let twin = app.twin().await;
        assert_eq!(twin.pump().await.1, 0, "a live lease is left alone");
        assert_eq!(
            doc_row(&app, &id).await.status,
            document_jobs::JobStatus::Queued
        );
        // Its lease runs out.
        defect_control::entities::jobs::Entity::update_many()
            .col_expr(
                defect_control::entities::jobs::Column::LockedUntil,
                Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
            )
            .exec(app.db())
            .await
            .unwrap();
        assert_eq!(twin.pump().await.1, 1);
        let row = doc_row(&app, &id).await;
        assert_eq!(
            (row.status, row.attempt, row.rows),
            (document_jobs::JobStatus::Done, 2, Some(3))
        );
        // The dead attempt's outcome, should it ever arrive, changes nothing.
        assert!(
            !jobs::finish(app.db(), &taken[0], jobs::Outcome::Failed("late".into()))
                .await
                .unwrap()
        );
        assert_eq!(twin.pump().await.1, 0, "run once");
        assert_eq!(job(&app, &s.manager, &id).await["status"], "DONE");
        drop(twin);
    }
}

#[tokio::test]
async fn an_expired_document_is_removed_from_storage_and_loses_its_url() {
    for app in apps().await {
        let s = site(&app).await;
        let id = request(&app, &s.manager, "XLSX", None).await["id"].clone();
        app.pump().await;
        let url = job(&app, &s.manager, &id).await["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let row = doc_row(&app, &id).await;
        let key = row.object_key.clone().unwrap();
        assert!(app.state.storage.exists(&key).await.unwrap());
        let kept = row.expires_at.unwrap() - row.finished_at.unwrap();
        assert!(kept >= chrono::Duration::hours(24), "{kept}");
        app.pump().await;
        assert!(
            app.state.storage.exists(&key).await.unwrap(),
            "not before it expires"
        );
        document_jobs::Entity::update_many()
            .set(document_jobs::ActiveModel {
                expires_at: Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1))),
                ..Default::default()
            })
            .filter(document_jobs::Column::Id.eq(row.id))
            .exec(app.db())
            .await
            .unwrap();
        app.pump().await;
        assert!(
            !app.state.storage.exists(&key).await.unwrap(),
            "[{}] removed",
            app.backend
        );
        assert_eq!(doc_row(&app, &id).await.object_key, None);
        assert_eq!(job(&app, &s.manager, &id).await["url"], Value::Null);
        assert_eq!(download(&app, &url).await.0, 404);
    }
}
