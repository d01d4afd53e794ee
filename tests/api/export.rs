//! The CSV export through the router: columns and formats, RFC 4180 quoting read back
//! with the `csv` crate, formula neutralising, every filter parameter against rows
//! selected here in Rust, bad parameters, the BOM, roles, and batch-by-batch streaming.
mod filters;

use std::{collections::HashMap, sync::atomic::Ordering};

use axum::{
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use defect_control::entities::{
    defects,
    enums::{DefectStatus, Priority, Role},
};
use http_body_util::BodyExt;
use sea_orm::{EntityTrait, QueryOrder, Set};
use serde_json::Value;
use tower::ServiceExt;

use crate::{
    fixtures::{Spec, base_time, make},
    helpers::{Actor, TestApp, apps},
};

pub const HEADER: [&str; 18] = [
    "key",
    "id",
    "project",
    "stage",
    "title",
    "description",
    "priority",
    "status",
    "performer",
    "author",
    "deadline",
    "created_at",
    "updated_at",
    "closed_at",
    "plan",
    "x",
    "y",
    "location",
];

/// HEADER, which the exports below are held to, is the contract's column list: the
/// backticked list after "Columns, in this order:" in docs/contract/API.md, where
/// scripts/docker-smoke.sh reads the header it expects from the image.
#[test]
fn the_header_is_the_contracts_column_list() {
    let api = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/contract/API.md"))
        .expect("docs/contract/API.md");
    let listed = api
        .split_once("Columns, in this order:")
        .and_then(|(_, rest)| rest.trim_start().strip_prefix('`'))
        .and_then(|rest| rest.split_once('`'))
        .map(|(list, _)| list)
        .expect("docs/contract/API.md: \"Columns, in this order: `key,id,…`\"");
    assert_eq!(listed, HEADER.join(","));
}

pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
    /// Body frames as they arrived: more than one means the body streamed.
    pub frames: usize,
}

impl Fetched {
    /// Header and records, read back by a strict RFC 4180 reader.
    pub fn table(&self) -> (Vec<String>, Vec<Vec<String>>) {
        self.table_with(b',')
    }

    /// [`Self::table`] with another separator (`;` for the Russian form).
    pub fn table_with(&self, delimiter: u8) -> (Vec<String>, Vec<Vec<String>>) {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text());
        let mut r = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(self.bytes.as_slice());
        let header = r.headers().unwrap().iter().map(str::to_owned).collect();
        let rows = r
            .records()
            .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
            .collect();
        (header, rows)
    }

    pub fn ids(&self) -> Vec<i32> {
        self.table()
            .1
            .iter()
            .map(|r| r[1].parse().unwrap())
            .collect()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
}

/// Percent-encodes every byte but the unreserved ones.
fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn fetch(app: &TestApp, token: Option<&str>, params: &[(&str, String)]) -> Fetched {
    fetch_in(app, token, params, None).await
}

/// [`fetch`] with an `Accept-Language` header.
pub async fn fetch_in(
    app: &TestApp,
    token: Option<&str>,
    params: &[(&str, String)],
    accept_language: Option<&str>,
) -> Fetched {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(format!("/api/reports/export/?{}", query.join("&")));
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(l) = accept_language {
        req = req.header(header::ACCEPT_LANGUAGE, l);
    }
    let res = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let mut body = res.into_body();
    let (mut bytes, mut frames) = (Vec::new(), 0);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            bytes.extend_from_slice(&data);
            frames += 1;
        }
    }
    Fetched {
        status,
        headers,
        bytes,
        frames,
    }
}

pub struct Data {
    pub admin: Actor,
    pub manager: Actor,
    pub engineer: Actor,
    pub observer: Actor,
    pub users: HashMap<i32, String>,
    pub projects: HashMap<i32, String>,
    /// Project codes (the second project has none: its keys are empty).
    pub codes: HashMap<i32, Option<String>>,
    pub stages: HashMap<i32, String>,
    pub p2: i32,
    pub s1: i32,
    /// As stored, ordered by id.
    pub rows: Vec<defects::Model>,
    pub today: NaiveDate,
}

/// Titles are single-line (the service refuses control characters); descriptions are
/// free text, so they carry the newlines and the leading tab.
const DESCRIPTIONS: [(usize, &str); 4] = [
    (1, "line one\nline two, \"quoted\""),
    (3, "Описание, с запятой"),
    (6, "\tindented\r\nwindows line"),
    (7, "=HYPERLINK(\"http://x\")"),
];

const TITLES: [&str; 11] = [
    "Трещина в стяжке",
    "Comma, \"quoted\"",
    "=SUM(A1)",
    "+1",
    "-1",
    "@x",
    "Tab in description",
    "Rebar exposed",
    "ТРЕЩИНА у окна",
    "Paint peeling",
    "Door frame",
];

pub async fn dataset(app: &TestApp) -> Data {
    let admin = app.actor(Role::Admin).await;
    let manager = app.actor(Role::Manager).await;
    let engineer = app.actor(Role::Engineer).await;
    let other = app.actor(Role::Engineer).await;
    let observer = app.actor(Role::Observer).await;
    let mut projects = HashMap::new();
    let mut stages = HashMap::new();
    let p1 = crate::builders::ProjectBuilder::new(&admin, "Башня «Север»")
        .code("БС1")
        .create(app)
        .await
        .id;
    let p2 = app.project(&admin, "Plant, Hall \"2\"").await.id;
    let s1 = app.stage(p1, "Каркас").await.id;
    let s2 = app.stage(p2, "=Roof").await.id;
    projects.insert(p1, "Башня «Север»".to_owned());
    projects.insert(p2, "Plant, Hall \"2\"".to_owned());
    let codes = HashMap::from([(p1, Some("БС1".to_owned())), (p2, None)]);
    stages.insert(s1, "Каркас".to_owned());
    stages.insert(s2, "=Roof".to_owned());
    for e in [&engineer, &other] {
        app.add_member(p1, e.id).await;
        app.add_member(p2, e.id).await;
    }
    let users = [&admin, &manager, &engineer, &other, &observer]
        .iter()
        .map(|a| (a.id, a.username.clone()))
        .collect();
    let today = Utc::now().date_naive();
    let statuses = [
        DefectStatus::New,
        DefectStatus::InProgress,
        DefectStatus::Review,
        DefectStatus::Closed,
        DefectStatus::Cancelled,
    ];
    let deadlines = [
        None,
        Some(today - Duration::days(1)),
        Some(today),
        Some(today + Duration::days(2)),
    ];
    let base = base_time();
    for (i, title) in TITLES.iter().enumerate() {
        let project = if i % 3 == 1 { p2 } else { p1 };
        let status = statuses[i % 5];
        let needs_performer = !matches!(status, DefectStatus::New | DefectStatus::Cancelled);
        let spec = Spec {
            stage: match (project == p1, i % 2) {
                (true, 0) => Some(s1),
                (false, 0) => Some(s2),
                _ => None,
            },
            title: (*title).into(),
            description: DESCRIPTIONS
                .iter()
                .find(|(at, _)| *at == i)
                .map_or(String::new(), |(_, d)| (*d).to_owned()),
            priority: [Priority::Low, Priority::Medium, Priority::High][i % 3],
            status,
            performer: (needs_performer || i % 4 == 0).then_some(if i % 2 == 0 {
                engineer.id
            } else {
                other.id
            }),
            deadline: deadlines[i % 4],
            hours: 1.5,
            ..Spec::new(project, base + Duration::hours(5 * i as i64))
        };
        let author = if i % 4 == 2 { &engineer } else { &manager };
        make(app, author, &manager, &spec).await;
    }
    let rows = defects::Entity::find()
        .order_by_asc(defects::Column::Id)
        .all(app.db())
        .await
        .unwrap();
    Data {
        admin,
        manager,
        engineer,
        observer,
        users,
        projects,
        codes,
        stages,
        p2,
        s1,
        rows,
        today,
    }
}

impl Data {
    pub fn ids(&self, f: impl Fn(&defects::Model) -> bool) -> Vec<i32> {
        self.rows.iter().filter(|d| f(d)).map(|d| d.id).collect()
    }
}

pub fn open(d: &defects::Model) -> bool {
    DefectStatus::OPEN.contains(&d.status)
}

fn same_instant(cell: &str, t: DateTime<Utc>) -> bool {
    cell.ends_with('Z') && DateTime::parse_from_rfc3339(cell).is_ok_and(|c| c == t)
}

fn safe(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

#[tokio::test]
async fn columns_quoting_and_neutralised_cells_read_back_exactly() {
    for app in apps().await {
        let data = dataset(&app).await;
        let res = fetch(&app, Some(&data.manager.token), &[]).await;
        assert_eq!(res.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
        assert_eq!(
            res.headers[header::CONTENT_DISPOSITION],
            format!("attachment; filename=\"defects-{}.csv\"", data.today).as_str()
        );
        assert!(
            res.bytes.starts_with(b"key,id,project,"),
            "no BOM unless asked"
        );
        assert!(res.text().contains("\r\n"), "RFC 4180 line ends");
        let (header, rows) = res.table();
        assert_eq!(header, HEADER);
        assert_eq!(
            rows.len(),
            data.rows.len(),
            "[{}] one row per defect",
            app.backend
        );
        for (cells, d) in rows.iter().zip(&data.rows) {
            let key = data.codes[&d.project_id]
                .as_ref()
                .map_or(String::new(), |c| format!("{c}-{:03}", d.number));
            assert_eq!(cells[0], key, "[{}] the key comes first", app.backend);
            let user = |id: Option<i32>| id.map_or(String::new(), |i| data.users[&i].clone());
            let expected = [
                d.id.to_string(),
                safe(&data.projects[&d.project_id]),
                d.stage_id.map_or(String::new(), |s| safe(&data.stages[&s])),
                safe(&d.title),
                safe(&d.description),
                ["low", "medium", "high"][d.priority as usize].to_owned(),
                ["new", "in_progress", "review", "closed", "cancelled"][d.status as usize]
                    .to_owned(),
                user(d.performer_id),
                user(Some(d.author_id)),
                d.deadline
                    .map_or(String::new(), |x| x.format("%Y-%m-%d").to_string()),
            ];
            assert_eq!(cells[1..11], expected, "[{}] {}", app.backend, d.title);
            assert!(same_instant(&cells[11], d.created_at), "{}", cells[11]);
            assert!(same_instant(&cells[12], d.updated_at), "{}", cells[12]);
            match d.closed_at {
                Some(t) => assert!(same_instant(&cells[13], t), "{}", cells[13]),
                None => assert_eq!(cells[13], ""),
            }
        }
        // Spelled out once, so the expectations above cannot drift with the code.
        let titles: Vec<&str> = rows.iter().map(|r| r[4].as_str()).collect();
        for t in [
            "'=SUM(A1)",
            "'+1",
            "'-1",
            "'@x",
            "Трещина в стяжке",
            "Comma, \"quoted\"",
        ] {
            assert!(titles.contains(&t), "[{}] {t:?} in {titles:?}", app.backend);
        }
        let cell =
            |title: &str, col: usize| rows.iter().find(|r| r[4] == title).unwrap()[col].clone();
        assert_eq!(cell("'+1", 5), "Описание, с запятой");
        assert_eq!(
            cell("Comma, \"quoted\"", 5),
            "line one\nline two, \"quoted\""
        );
        assert_eq!(cell("Comma, \"quoted\"", 2), "Plant, Hall \"2\"");
        assert_eq!(cell("Tab in description", 5), "'\tindented\r\nwindows line");
        assert_eq!(cell("Rebar exposed", 5), "'=HYPERLINK(\"http://x\")");
        assert_eq!(cell("Трещина в стяжке", 2), "Башня «Север»");
        let raw = res.text();
        assert!(
            raw.contains("\"Comma, \"\"quoted\"\"\""),
            "quotes doubled inside quotes"
        );
        assert!(raw.contains("\"line one\nline two, \"\"quoted\"\"\""));
        assert!(rows.iter().any(|r| r[3] == "'=Roof"), "stage titles too");
    }
}

#[tokio::test]
async fn bom_only_when_asked() {
    for app in apps().await {
        let data = dataset(&app).await;
        let with = fetch(&app, Some(&data.manager.token), &[("bom", "true".into())]).await;
        assert!(with.bytes.starts_with(b"\xEF\xBB\xBFkey,id,project,"));
        let without = fetch(&app, Some(&data.manager.token), &[("bom", "false".into())]).await;
        assert_eq!(&with.bytes[3..], without.bytes.as_slice());
        // A CSV reader that knows about the BOM reads the same table.
        assert_eq!(with.table().1.len(), data.rows.len());
    }
}

#[tokio::test]
async fn accept_language_never_changes_the_machine_form() {
    for app in apps().await {
        let data = dataset(&app).await;
        let token = Some(data.manager.token.as_str());
        let plain = fetch(&app, token, &[]).await;
        assert_eq!(plain.table().0, HEADER);
        // What browsers send: a frontend's fetch() carries the user's language.
        for accept in ["ru", "ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "en", "de"] {
            let res = fetch_in(&app, token, &[], Some(accept)).await;
            assert_eq!(res.status, StatusCode::OK);
            assert_eq!(
                res.headers[header::CONTENT_TYPE],
                plain.headers[header::CONTENT_TYPE]
            );
            assert!(
                res.bytes == plain.bytes,
                "[{}] {accept}: byte for byte the same as without the header:\n{}",
                app.backend,
                res.text()
            );
        }
    }
}

/// The machine form's enum spellings in the human forms, in column order.
const STATUSES: [(&str, &str, &str); 5] = [
    ("new", "New", "Новый"),
    ("in_progress", "In progress", "В работе"),
    ("review", "In review", "На проверке"),
    ("closed", "Closed", "Закрыт"),
    ("cancelled", "Cancelled", "Отменён"),
];
const PRIORITIES: [(&str, &str, &str); 3] = [
    ("low", "Low", "Низкий"),
    ("medium", "Medium", "Средний"),
    ("high", "High", "Высокий"),
];

/// `human` is `machine` with the header and enum values translated, cell for cell.
fn same_table_translated(
    machine: &(Vec<String>, Vec<Vec<String>>),
    human: &(Vec<String>, Vec<Vec<String>>),
    header: &[&str],
    word: fn(&(&'static str, &'static str, &'static str)) -> &'static str,
) {
    assert_eq!(human.0, header);
    assert_eq!(human.1.len(), machine.1.len());
    let translate = |table: &[(&'static str, &'static str, &'static str)], v: &str| {
        let t = table.iter().find(|t| t.0 == v).unwrap();
        word(t).to_owned()
    };
    for (m, h) in machine.1.iter().zip(&human.1) {
        let mut want = m.clone();
        want[6] = translate(&PRIORITIES, &m[6]);
        want[7] = translate(&STATUSES, &m[7]);
        assert_eq!(*h, want);
    }
}

#[tokio::test]
async fn lang_ru_is_the_russian_spreadsheet_form() {
    for app in apps().await {
        let data = dataset(&app).await;
        let token = Some(data.manager.token.as_str());
        let machine = fetch(&app, token, &[]).await.table();
        // Whatever Accept-Language says: ?lang= alone chooses the form.
        for accept in [None, Some("en")] {
            let ru = fetch_in(&app, token, &[("lang", "ru".into())], accept).await;
            assert_eq!(ru.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
            assert!(
                ru.bytes
                    .starts_with("\u{feff}Ключ;ID;Проект;Этап;".as_bytes()),
                "[{}] a BOM, then `;`: {}",
                app.backend,
                ru.text()
            );
            let table = ru.table_with(b';');
            same_table_translated(
                &machine,
                &table,
                &[
                    "Ключ",
                    "ID",
                    "Проект",
                    "Этап",
                    "Название",
                    "Описание",
                    "Приоритет",
                    "Статус",
                    "Исполнитель",
                    "Автор",
                    "Срок",
                    "Создан",
                    "Изменён",
                    "Закрыт",
                    "План",
                    "X",
                    "Y",
                    "Место",
                ],
                |t| t.2,
            );
            let first_line = ru.text().lines().next().unwrap_or("").to_owned();
            assert!(
                !first_line.contains(','),
                "`;` alone separates: {first_line}"
            );
        }
        // bom=false takes the BOM away and leaves the rest.
        let with = fetch(&app, token, &[("lang", "ru".into())]).await;
        let without = fetch(
            &app,
            token,
            &[("lang", "ru".into()), ("bom", "false".into())],
        )
        .await;
        assert_eq!(&with.bytes[3..], without.bytes.as_slice());
    }
}

#[tokio::test]
async fn lang_en_is_the_english_spreadsheet_form() {
    for app in apps().await {
        let data = dataset(&app).await;
        let token = Some(data.manager.token.as_str());
        let machine = fetch(&app, token, &[]).await.table();
        let en = fetch_in(&app, token, &[("lang", "en".into())], Some("ru")).await;
        assert!(
            en.bytes.starts_with(b"Key,ID,Project,Stage,"),
            "[{}] no BOM, `,`: {}",
            app.backend,
            en.text()
        );
        same_table_translated(
            &machine,
            &en.table(),
            &[
                "Key",
                "ID",
                "Project",
                "Stage",
                "Title",
                "Description",
                "Priority",
                "Status",
                "Performer",
                "Author",
                "Deadline",
                "Created",
                "Updated",
                "Closed",
                "Plan",
                "X",
                "Y",
                "Location",
            ],
            |t| t.1,
        );
    }
}

#[tokio::test]
async fn only_admins_and_managers_export() {
    for app in apps().await {
        let data = dataset(&app).await;
        for ok in [&data.admin, &data.manager] {
            assert_eq!(
                fetch(&app, Some(&ok.token), &[]).await.status,
                StatusCode::OK
            );
        }
        for (token, status, code) in [
            (Some(data.engineer.token.as_str()), 403, "FORBIDDEN"),
            (Some(data.observer.token.as_str()), 403, "FORBIDDEN"),
            (None, 401, "UNAUTHENTICATED"),
            (Some("not-a-token"), 401, "UNAUTHENTICATED"),
        ] {
            // Refused before the parameters are even looked at.
            let res = fetch(&app, token, &[("status", "bogus".into())]).await;
            assert_eq!(res.status.as_u16(), status, "{code}");
            assert_eq!(res.json()["error"]["code"], code);
            assert!(!res.text().contains("key,id,project"));
        }
    }
}

#[tokio::test]
async fn large_exports_stream_in_keyset_batches() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        let project = app.project(&admin, "Bulk").await.id;
        let now = defect_control::time::now();
        const BATCH: usize = defect_control::domain::defects::export::BATCH as usize;
        const N: usize = 2 * BATCH + BATCH / 2;
        // Rows written in bulk, not through the builder: 12,500 service calls would make
        // this test minutes long, and only the export's batching is under test here.
        for chunk in 0..N / 500 {
            let batch = (0..500).map(|i| defects::ActiveModel {
                project_id: Set(project),
                number: Set(i32::try_from(chunk * 500 + i + 1).unwrap()),
                title: Set(format!("Bulk {}", chunk * 500 + i)),
                description: Set(String::new()),
                search_text: Set(String::new()),
                priority: Set(Priority::Medium),
                status: Set(DefectStatus::New),
                author_id: Set(admin.id),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            });
            defects::Entity::insert_many(batch)
                .exec(app.db())
                .await
                .unwrap();
        }
        let statements = &app.statements;
        let before = statements.load(Ordering::SeqCst);
        let res = fetch(&app, Some(&admin.token), &[]).await;
        let used = statements.load(Ordering::SeqCst) - before;
        let ids = res.ids();
        assert_eq!(ids.len(), N, "[{}]", app.backend);
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "ascending ids, no repeats"
        );
        // The viewer lookup, the names (projects, stages, users, plans) once, and three
        // batches, sent as they came.
        assert_eq!(used, 1 + 4 + N.div_ceil(BATCH), "[{}]", app.backend);
        assert!(res.frames >= 3, "[{}] {} frames", app.backend, res.frames);
    }
}
