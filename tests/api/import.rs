//! The import (FIELD.md "Import"): both CSV forms and XLSX, the export read back, the
//! create rules per row, atomic or not, dry runs, and each limit with its abuse.
use std::io::Write;

use axum::http::StatusCode;
use chrono::NaiveDate;
use defect_control::entities::{
    defects,
    enums::{Priority, Role},
    stages,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::{
    builders::{DefectBuilder, ProjectBuilder},
    export::fetch,
    files::{self, multipart_request},
    helpers::{Actor, TestApp, apps, apps_with},
};

const IMPORT: &str = r"
    mutation($p: ID!, $f: Upload!, $dry: Boolean, $atomic: Boolean) {
      importDefects(projectId: $p, file: $f, dryRun: $dry, atomic: $atomic) {
        dryRun created failed
        rows { row ok code field message defect { id number title } }
      }
    }
";
const UPLOAD_PLAN: &str = r"
    mutation($p: ID!, $t: String!, $f: Upload!) {
      uploadPlan(projectId: $p, title: $t, file: $f) { id }
    }
";

async fn import(
    app: &TestApp,
    actor: &Actor,
    project: i32,
    name: &str,
    bytes: &[u8],
    dry: bool,
    atomic: bool,
) -> Value {
    let req = multipart_request(
        Some(&actor.token),
        IMPORT,
        json!({ "p": project.to_string(), "f": null, "dry": dry, "atomic": atomic }),
        name,
        bytes,
    );
    app.request(req).await.body
}

async fn plan(app: &TestApp, actor: &Actor, project: i32, title: &str) -> i32 {
    let req = multipart_request(
        Some(&actor.token),
        UPLOAD_PLAN,
        json!({ "p": project.to_string(), "t": title, "f": null }),
        "plan.png",
        &files::png(40, 20),
    );
    let body = app.request(req).await.body;
    body["data"]["uploadPlan"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .parse()
        .unwrap()
}

/// A project with stages Frame and Roof, plan L1, the engineer a member.
async fn site(app: &TestApp, manager: &Actor, engineer: &Actor) -> (i32, i32, i32, i32) {
    let project = ProjectBuilder::new(manager, "Site")
        .member(engineer.id)
        .create(app)
        .await;
    let frame = app.stage(project.id, "Frame").await.id;
    let roof = app.stage(project.id, "Roof").await.id;
    let l1 = plan(app, manager, project.id, "L1").await;
    (project.id, frame, roof, l1)
}

async fn stages_of(app: &TestApp, project: i32) -> Vec<stages::Model> {
    stages::Entity::find()
        .filter(stages::Column::ProjectId.eq(project))
        .all(app.db())
        .await
        .unwrap()
}

async fn defects_of(app: &TestApp, project: i32) -> Vec<defects::Model> {
    defects::Entity::find()
        .filter(defects::Column::ProjectId.eq(project))
        .order_by_asc(defects::Column::Number)
        .all(app.db())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_export_imported_into_another_project_recreates_its_defects() {
    for app in apps().await {
        let manager = app.actor(Role::Manager).await;
        let engineer = app.actor(Role::Engineer).await;
        let (from, frame, _, l1) = site(&app, &manager, &engineer).await;
        let titles = [
            "=SUM(A1)",
            "Трещина; штукатурка, \"кв. 5\"",
            "-5 °C in the stair",
        ];
        for (i, title) in titles.iter().enumerate() {
            let d = DefectBuilder::new(from, &manager, &manager)
                .title(title)
                .description(Some(format!("line one\nline two {i}")))
                .stage((i != 1).then_some(frame))
                .priority([Priority::High, Priority::Low, Priority::Medium][i])
                .deadline(NaiveDate::from_ymd_opt(2031, 3, i as u32 + 1))
                .performer((i != 2).then_some(engineer.id))
                .create(&app)
                .await;
            if i == 0 {
                let pin =
                    json!({ "planId": l1.to_string(), "x": 0.25, "y": 0.75, "label": "ось C" });
                app.ok(
                    &manager,
                    "mutation($id: ID!, $i: UpdateDefectInput!) { updateDefect(id: $id, input: $i) { id } }",
                    json!({ "id": d.id.to_string(), "i": { "location": pin } }),
                )
                .await;
            }
        }
        let source = defects_of(&app, from).await;
        for lang in [None, Some("ru"), Some("en")] {
            let mut params = vec![("project", from.to_string())];
            if let Some(l) = lang {
                params.push(("lang", l.to_owned()));
            }
            let csv = fetch(&app, Some(&manager.token), &params).await;
            assert_eq!(csv.status, StatusCode::OK);
            let (to, _, _, _) = site(&app, &manager, &engineer).await;
            let body = import(&app, &manager, to, "export.csv", &csv.bytes, false, true).await;
            let r = &body["data"]["importDefects"];
            assert_eq!(r["created"], 3, "[{}] {lang:?} {body}", app.backend);
            let copied = defects_of(&app, to).await;
            let (sa, sb) = (stages_of(&app, from).await, stages_of(&app, to).await);
            let stage_title = |stages: &[stages::Model], id: Option<i32>| {
                id.and_then(|i| stages.iter().find(|s| s.id == i).map(|s| s.title.clone()))
            };
            for (a, b) in source.iter().zip(&copied) {
                assert_eq!(a.title, b.title, "[{}] {lang:?}", app.backend);
                assert_eq!(a.description, b.description);
                assert_eq!(stage_title(&sa, a.stage_id), stage_title(&sb, b.stage_id));
                assert_eq!(a.priority, b.priority);
                assert_eq!(a.performer_id, b.performer_id);
                assert_eq!(a.deadline, b.deadline);
                assert_eq!(a.plan_id.is_some(), b.plan_id.is_some());
                assert_eq!((a.location_x, a.location_y), (b.location_x, b.location_y));
                assert_eq!(a.location_label, b.location_label);
                assert_eq!(b.author_id, manager.id);
            }
            assert_eq!(copied.len(), 3);
            assert_eq!(
                copied.iter().map(|d| d.number).collect::<Vec<_>>(),
                [1, 2, 3]
            );
        }
    }
}

#[tokio::test]
async fn a_refused_row_names_its_row_and_column_and_atomic_creates_nothing() {
    for app in apps().await {
        let manager = app.actor(Role::Manager).await;
        let engineer = app.actor(Role::Engineer).await;
        let outsider = app.actor(Role::Engineer).await;
        let (project, _, _, _) = site(&app, &manager, &engineer).await;
        let csv = format!(
            "\u{FEFF}Название;Этап;Приоритет;Исполнитель;Срок;План;X;Y\r\n\
             Первый;Frame;Высокий;{e};2031-01-02;;;\r\n\
             Второй;Basement;;;;;;\r\n\
             ;;;;;;;\r\n\
             Третий;;urgent;;;;;\r\n\
             Четвёртый;;;{o};;;;\r\n\
             Пятый;;;;31.12.2031;;;\r\n\
             Шестой;;;;;L1;0.5;\r\n\
             Седьмой;;;;;L9;0,5;0,5\r\n\
             ;Roof;;;;;;\r\n\
             Девятый;roof;low;;;L1;0,5;0,25\r\n",
            e = engineer.username,
            o = outsider.username
        );
        let before = app.snapshot().await;
        let body = import(
            &app,
            &manager,
            project,
            "remarks.csv",
            csv.as_bytes(),
            false,
            true,
        )
        .await;
        let r = &body["data"]["importDefects"];
        let rows: Vec<(i64, bool, Value, Value)> = r["rows"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|x| {
                (
                    x["row"].as_i64().unwrap(),
                    x["ok"] == true,
                    x["code"].clone(),
                    x["field"].clone(),
                )
            })
            .collect();
        let bad = |row: i64, field: &str| (row, false, json!("BAD_USER_INPUT"), json!(field));
        let good = |row: i64| (row, true, Value::Null, Value::Null);
        assert_eq!(
            rows,
            [
                good(1),
                bad(2, "stage"),
                bad(4, "priority"),
                bad(5, "performer"),
                bad(6, "deadline"),
                bad(7, "y"),
                bad(8, "plan"),
                bad(9, "title"),
                good(10),
            ],
            "[{}] {body}",
            app.backend
        );
        assert_eq!((&r["created"], &r["failed"]), (&json!(0), &json!(7)));
        assert!(r["rows"][0]["defect"].is_null());
        assert_eq!(app.snapshot().await, before, "[{}]", app.backend);
        // A dry run checks the same and writes nothing.
        let body = import(
            &app,
            &manager,
            project,
            "remarks.csv",
            csv.as_bytes(),
            true,
            false,
        )
        .await;
        assert_eq!(body["data"]["importDefects"]["dryRun"], true);
        assert_eq!(body["data"]["importDefects"]["failed"], 7);
        assert_eq!(app.snapshot().await, before, "[{}]", app.backend);
        // Not atomic: the good rows, numbered in row order.
        let body = import(
            &app,
            &manager,
            project,
            "remarks.csv",
            csv.as_bytes(),
            false,
            false,
        )
        .await;
        let r = &body["data"]["importDefects"];
        assert_eq!(
            (&r["created"], &r["failed"]),
            (&json!(2), &json!(7)),
            "{body}"
        );
        let made = defects_of(&app, project).await;
        assert_eq!(
            made.iter()
                .map(|d| (d.number, d.title.as_str()))
                .collect::<Vec<_>>(),
            [(1, "Первый"), (2, "Девятый")]
        );
        assert_eq!(made[0].performer_id, Some(engineer.id));
        assert_eq!(made[0].priority, Priority::High);
        assert_eq!(made[1].location_y, Some(0.25));
        assert_eq!(r["rows"][8]["defect"]["number"], 2);
        // Journal events as for a create, and the engine's notifications from them.
        assert_eq!(app.count("defect_events").await, 2);
    }
}

#[tokio::test]
async fn only_admins_and_managers_import_into_projects_they_see() {
    for app in apps().await {
        let manager = app.actor(Role::Manager).await;
        let engineer = app.actor(Role::Engineer).await;
        let (project, _, _, _) = site(&app, &manager, &engineer).await;
        let before = app.snapshot().await;
        let body = import(
            &app,
            &engineer,
            project,
            "a.csv",
            b"title\nx\n",
            false,
            true,
        )
        .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{body}"
        );
        let body = import(&app, &manager, 999_999, "a.csv", b"title\nx\n", false, true).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{body}"
        );
        for bad in [
            &b"description\nx\n"[..],
            b"\xff\xfetitle\n",
            b"PK\x03\x04broken",
        ] {
            let body = import(&app, &manager, project, "a.csv", bad, false, true).await;
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{body}"
            );
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("file:")
            );
        }
        assert_eq!(app.snapshot().await, before);
    }
}

/// An XLSX written by another library: the Russian header, a date cell, numbers, and a
/// formula (kept as its text, never evaluated).
fn xlsx(rows: usize) -> Vec<u8> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (c, h) in ["Название", "Приоритет", "Срок", "План", "X", "Y", "Цвет"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for r in 1..=rows as u32 {
        if r == 1 {
            sheet.write_formula(r, 0, "=1+2").unwrap();
        } else {
            sheet.write_string(r, 0, format!("Remark {r}")).unwrap();
        }
        sheet.write_string(r, 1, "high").unwrap();
        let d = ExcelDateTime::from_ymd(2031, 5, 17).unwrap();
        sheet.write_datetime_with_format(r, 2, &d, &date).unwrap();
        sheet.write_string(r, 3, "L1").unwrap();
        sheet.write_number(r, 4, 0.5).unwrap();
        sheet.write_number(r, 5, 0.125).unwrap();
        sheet.write_string(r, 6, "red").unwrap();
    }
    book.save_to_buffer().unwrap()
}

#[tokio::test]
async fn an_xlsx_sheet_is_imported_and_formulas_stay_text() {
    for app in apps().await {
        let manager = app.actor(Role::Manager).await;
        let engineer = app.actor(Role::Engineer).await;
        let (project, _, _, l1) = site(&app, &manager, &engineer).await;
        let body = import(
            &app,
            &manager,
            project,
            "remarks.xlsx",
            &xlsx(3),
            false,
            true,
        )
        .await;
        assert_eq!(
            body["data"]["importDefects"]["created"], 3,
            "[{}] {body}",
            app.backend
        );
        let made = defects_of(&app, project).await;
        assert_eq!(made[0].title, "=1+2");
        assert_eq!(made[1].title, "Remark 2");
        assert_eq!(made[2].deadline, NaiveDate::from_ymd_opt(2031, 5, 17));
        assert_eq!(made[2].priority, Priority::High);
        assert_eq!(
            (made[2].plan_id, made[2].location_y),
            (Some(l1), Some(0.125))
        );
        // A CSV's formula-looking cells are stored as typed.
        let csv = "title,description\n\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",@cmd\n+1,-1\n";
        let body = import(
            &app,
            &manager,
            project,
            "f.csv",
            csv.as_bytes(),
            false,
            true,
        )
        .await;
        assert_eq!(body["data"]["importDefects"]["created"], 2, "{body}");
        let made = defects_of(&app, project).await;
        assert_eq!(made[3].title, "=HYPERLINK(\"http://x\",\"y\")");
        assert_eq!(made[3].description, "@cmd");
        assert_eq!(
            (made[4].title.as_str(), made[4].description.as_str()),
            ("+1", "-1")
        );
    }
}

#[tokio::test]
async fn more_than_5000_rows_are_refused_and_5000_pass_a_dry_run() {
    for app in apps().await {
        let manager = app.actor(Role::Manager).await;
        let engineer = app.actor(Role::Engineer).await;
        let (project, _, _, _) = site(&app, &manager, &engineer).await;
        let mut csv = String::from("title\n");
        for i in 1..=5000 {
            csv.push_str(&format!("Remark {i}\n"));
        }
        let before = app.snapshot().await;
        let body = import(
            &app,
            &manager,
            project,
            "big.csv",
            csv.as_bytes(),
            true,
            true,
        )
        .await;
        let r = &body["data"]["importDefects"];
        assert_eq!(
            (&r["failed"], r["rows"].as_array().map(Vec::len)),
            (&json!(0), Some(5000)),
            "{body}"
        );
        csv.push_str("Remark 5001\n");
        let body = import(
            &app,
            &manager,
            project,
            "big.csv",
            csv.as_bytes(),
            false,
            true,
        )
        .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("file:")
        );
        let body = import(
            &app,
            &manager,
            project,
            "big.xlsx",
            &xlsx(5001),
            false,
            true,
        )
        .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(app.snapshot().await, before);
    }
}

#[tokio::test]
async fn an_oversized_upload_is_refused() {
    let limit = 64 * 1024;
    for app in apps_with(|c| c.max_upload_bytes = limit).await {
        let manager = app.actor(Role::Manager).await;
        let engineer = app.actor(Role::Engineer).await;
        let (project, _, _, _) = site(&app, &manager, &engineer).await;
        let mut csv = String::from("title\n");
        while csv.len() as u64 <= limit {
            csv.push_str("A remark long enough to fill the file quickly\n");
        }
        let before = app.snapshot().await;
        let req = multipart_request(
            Some(&manager.token),
            IMPORT,
            json!({ "p": project.to_string(), "f": null }),
            "big.csv",
            csv.as_bytes(),
        );
        let res = app.request(req).await;
        assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", res.body);
        assert_eq!(
            res.body["errors"][0]["extensions"]["code"],
            "PAYLOAD_TOO_LARGE"
        );
        assert_eq!(app.snapshot().await, before);
    }
}

/// A zip whose one entry unpacks to `size` zeros, named like an XLSX's sheet.
fn zip_bomb(size: usize) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    zip.start_file("xl/worksheets/sheet1.xml", options).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..size / chunk.len() {
        zip.write_all(&chunk).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}

#[tokio::test]
async fn a_zip_bomb_posing_as_xlsx_is_refused_quickly() {
    let bomb = zip_bomb(64 << 20);
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    for app in apps().await {
        let manager = app.actor(Role::Manager).await;
        let engineer = app.actor(Role::Engineer).await;
        let (project, _, _, _) = site(&app, &manager, &engineer).await;
        let before = app.snapshot().await;
        let started = std::time::Instant::now();
        let body = import(&app, &manager, project, "remarks.xlsx", &bomb, false, true).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(app.snapshot().await, before);
    }
}
