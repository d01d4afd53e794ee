//! Plans and pins: upload through the attachments' pipeline (types by content, signed
//! downloads), who may manage plans, pins on create and update (coordinates, the plan's
//! project, edit rights), the `planId` filter, the CSV's plan columns, and deletePlan
//! refused while defects are pinned. Refusals assert the code and an unchanged database
//! and store.
mod links;
mod pins;

use axum::http::{Request, StatusCode};
use chrono::Utc;
use defect_control::{
    domain::plans::service::MAX_PER_PROJECT,
    entities::{defect_events, defects, plans},
};
use futures_util::future::join_all;
use http_body_util::BodyExt;
use sea_orm::{
    ConnectionTrait, DbBackend, EntityTrait, QueryOrder, Set, Statement, TransactionTrait,
};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{
    builders::{DefectBuilder, ProjectBuilder},
    files::{self, multipart_request},
    helpers::{Actor, TestApp, apps, outcome},
};

const UPLOAD: &str = r"
    mutation($p: ID!, $s: ID, $t: String!, $f: Upload!) {
      uploadPlan(projectId: $p, stageId: $s, title: $t, file: $f) {
        id title width height contentType url previewUrl
        project { id }
        stage { title }
      }
    }
";
const PLANS: &str = r"
    query($id: ID!) {
      project(id: $id) {
        plans { id title }
      }
    }
";
const DELETE: &str = r"
    mutation($id: ID!) {
      deletePlan(id: $id)
    }
";
const CREATE: &str = r"
    mutation($i: CreateDefectInput!) {
      createDefect(input: $i) {
        id
        location { x y label plan { id title } }
      }
    }
";
const UPDATE: &str = r"
    mutation($id: ID!, $i: UpdateDefectInput!) {
      updateDefect(id: $id, input: $i) {
        version
        location { x y label plan { id } }
      }
    }
";
const PINNED: &str = r"
    query($plan: ID!) {
      defects(filter: { planId: $plan }) {
        nodes { title location { x y } }
      }
    }
";

async fn upload(
    app: &TestApp,
    who: &Actor,
    project: i32,
    stage: Option<i32>,
    title: &str,
    name: &str,
    bytes: &[u8],
) -> Value {
    let vars = json!({
        "p": project.to_string(),
        "s": stage.map(|s| s.to_string()),
        "t": title,
        "f": null,
    });
    app.request(multipart_request(
        Some(&who.token),
        UPLOAD,
        vars,
        name,
        bytes,
    ))
    .await
    .body
}

async fn get_bytes(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, Vec<u8>) {
    let mut req = Request::get(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let res = app
        .router
        .clone()
        .oneshot(req.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    (
        status,
        res.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

async fn plan_rows(app: &TestApp) -> Vec<plans::Model> {
    plans::Entity::find()
        .order_by_asc(plans::Column::Id)
        .all(app.db())
        .await
        .unwrap()
}

async fn objects(app: &TestApp) -> Vec<String> {
    app.state.storage.list("").await.expect("list")
}

struct Site {
    admin: Actor,
    manager: Actor,
    engineer: Actor,
    outsider: Actor,
    observer: Actor,
    project: i32,
    stage: i32,
    other: i32,
    other_stage: i32,
}

async fn site(app: &TestApp) -> Site {
    let cast = app.cast().await;
    let project = ProjectBuilder::new(&cast.admin, "Tower")
        .code("TW")
        .member(cast.engineer.id)
        .create(app)
        .await
        .id;
    let stage = app.stage(project, "Level 3").await.id;
    let other = app.project(&cast.admin, "Elsewhere").await.id;
    let other_stage = app.stage(other, "Roof").await.id;
    Site {
        admin: cast.admin,
        manager: cast.manager,
        engineer: cast.engineer,
        outsider: cast.outsider,
        observer: cast.observer,
        project,
        stage,
        other,
        other_stage,
    }
}

#[tokio::test]
async fn managers_upload_images_and_pdfs_and_everyone_who_sees_the_project_lists_them() {
    for app in apps().await {
        let s = site(&app).await;
        let png = files::png(800, 600);
        let body = upload(
            &app,
            &s.manager,
            s.project,
            Some(s.stage),
            "Level 3",
            "l3.png",
            &png,
        )
        .await;
        let p = &body["data"]["uploadPlan"];
        assert!(p.is_object(), "[{}] {body}", app.backend);
        assert_eq!(
            (p["width"].clone(), p["height"].clone()),
            (json!(800), json!(600))
        );
        assert_eq!(p["contentType"], "image/png");
        assert_eq!(p["stage"]["title"], "Level 3");
        assert_eq!(p["project"]["id"], s.project.to_string());
        let pdf = files::pdf();
        let body = upload(
            &app,
            &s.admin,
            s.project,
            None,
            "Site plan",
            "site.pdf",
            &pdf,
        )
        .await;
        let q = &body["data"]["uploadPlan"];
        assert_eq!(q["contentType"], "application/pdf", "{body}");
        assert!(q["width"].is_null() && q["stage"].is_null());
        // The signed links open the bytes without a header; a tampered one does not.
        for (plan, bytes) in [(p, &png), (q, &pdf)] {
            for field in ["url", "previewUrl"] {
                let url = plan[field].as_str().unwrap();
                let (status, got) = get_bytes(&app, url, None).await;
                assert_eq!((status, &got), (StatusCode::OK, bytes), "{field}");
            }
            let forged = plan["url"].as_str().unwrap().replace("sig=", "sig=00");
            assert_eq!(
                get_bytes(&app, &forged, None).await.0,
                StatusCode::FORBIDDEN
            );
        }
        // By token: whoever sees the project; an outsider engineer does not.
        let path = format!("/api/plans/{}/file", p["id"].as_str().unwrap());
        assert_eq!(
            get_bytes(&app, &path, Some(&s.engineer.token)).await.0,
            StatusCode::OK
        );
        assert_eq!(
            get_bytes(&app, &path, Some(&s.outsider.token)).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get_bytes(&app, &path, None).await.0,
            StatusCode::UNAUTHORIZED
        );
        for who in [&s.engineer, &s.observer, &s.manager] {
            let list = app
                .ok(who, PLANS, json!({ "id": s.project.to_string() }))
                .await;
            let titles: Vec<&str> = list["project"]["plans"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["title"].as_str().unwrap())
                .collect();
            assert_eq!(titles, ["Level 3", "Site plan"], "[{}]", app.backend);
        }
        assert_eq!(objects(&app).await.len(), 2);
    }
}

#[tokio::test]
async fn refused_uploads_store_nothing() {
    for app in apps().await {
        let s = site(&app).await;
        let png = files::png(10, 10);
        // Who, project, stage, title, filename, bytes, the expected code.
        type Case<'a> = (
            &'a Actor,
            i32,
            Option<i32>,
            &'a str,
            &'a str,
            Vec<u8>,
            &'a str,
        );
        let cases: [Case; 8] = [
            (
                &s.engineer,
                s.project,
                None,
                "Plan",
                "a.png",
                png.clone(),
                "FORBIDDEN",
            ),
            (
                &s.observer,
                s.project,
                None,
                "Plan",
                "a.png",
                png.clone(),
                "FORBIDDEN",
            ),
            (
                &s.outsider,
                s.project,
                None,
                "Plan",
                "a.png",
                png.clone(),
                "NOT_FOUND",
            ),
            (
                &s.manager,
                s.project,
                Some(s.other_stage),
                "Plan",
                "a.png",
                png.clone(),
                "BAD_USER_INPUT",
            ),
            (
                &s.manager,
                s.project,
                None,
                "  ",
                "a.png",
                png.clone(),
                "BAD_USER_INPUT",
            ),
            (
                &s.manager,
                s.project,
                None,
                "Plan",
                "plan.png",
                b"not an image".to_vec(),
                "BAD_USER_INPUT",
            ),
            (
                &s.manager,
                999_999,
                None,
                "Plan",
                "a.png",
                png.clone(),
                "NOT_FOUND",
            ),
            (
                &s.manager,
                s.project,
                None,
                "Plan",
                "profile-bomb.png",
                files::png_with_profile(64 * 1024 * 1024),
                "BAD_USER_INPUT",
            ),
        ];
        let before = app.snapshot().await;
        for (who, project, stage, title, name, bytes, code) in cases {
            let body = upload(&app, who, project, stage, title, name, &bytes).await;
            assert_eq!(
                outcome(&body),
                code,
                "[{}] {title:?} {name}: {body}",
                app.backend
            );
        }
        assert!(plan_rows(&app).await.is_empty());
        assert!(objects(&app).await.is_empty(), "nothing stored");
        assert_eq!(app.snapshot().await, before);
    }
}

#[tokio::test]
async fn pins_are_checked_journalled_filtered_and_exported() {
    for app in apps().await {
        let s = site(&app).await;
        let body = upload(
            &app,
            &s.manager,
            s.project,
            None,
            "L3",
            "l3.png",
            &files::png(40, 20),
        )
        .await;
        let plan = body["data"]["uploadPlan"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let body = upload(
            &app,
            &s.manager,
            s.other,
            None,
            "Other",
            "o.png",
            &files::png(4, 4),
        )
        .await;
        let foreign = body["data"]["uploadPlan"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let pid = s.project.to_string();
        // The engineer (a member) registers a defect with a pin.
        let d = app
            .ok(
                &s.engineer,
                CREATE,
                json!({ "i": { "projectId": pid, "title": "Crack",
                    "location": { "planId": plan, "x": 0.25, "y": 1.0, "label": "ось C-D/7, отм. +9.600" } } }),
            )
            .await["createDefect"]
            .clone();
        assert_eq!(d["location"]["plan"]["title"], "L3", "[{}]", app.backend);
        assert_eq!(
            (d["location"]["x"].clone(), d["location"]["y"].clone()),
            (json!(0.25), json!(1.0))
        );
        assert_eq!(d["location"]["label"], "ось C-D/7, отм. +9.600");
        let id = d["id"].clone();
        // Refused pins change nothing.
        let before = app.snapshot().await;
        let pin = |plan: &str, x: f64, y: f64| json!({ "planId": plan, "x": x, "y": y });
        for (who, loc, code) in [
            (&s.engineer, pin(&plan, 1.5, 0.5), "BAD_USER_INPUT"),
            (&s.engineer, pin(&plan, 0.5, -0.1), "BAD_USER_INPUT"),
            (&s.engineer, pin(&foreign, 0.5, 0.5), "BAD_USER_INPUT"),
            (&s.engineer, pin("999999", 0.5, 0.5), "BAD_USER_INPUT"),
            (&s.engineer, pin("not-an-id", 0.5, 0.5), "BAD_USER_INPUT"),
            (&s.observer, pin(&plan, 0.5, 0.5), "FORBIDDEN"),
            (&s.outsider, pin(&plan, 0.5, 0.5), "NOT_FOUND"),
        ] {
            let got = app
                .code(
                    Some(&who.token),
                    UPDATE,
                    json!({ "id": id, "i": { "location": loc } }),
                )
                .await;
            assert_eq!(got, code, "[{}] {loc}", app.backend);
        }
        let created_elsewhere = app
            .code(
                Some(&s.manager.token),
                CREATE,
                json!({ "i": { "projectId": pid, "title": "x", "location": pin(&foreign, 0.1, 0.1) } }),
            )
            .await;
        assert_eq!(created_elsewhere, "BAD_USER_INPUT");
        assert_eq!(
            app.snapshot().await,
            before,
            "[{}] refused pins changed nothing",
            app.backend
        );
        // Another engineer's defect: pinning is editing.
        let mgr_defect = DefectBuilder::new(s.project, &s.manager, &s.manager)
            .title("Managers'")
            .create(&app)
            .await;
        let got = app
            .code(
                Some(&s.engineer.token),
                UPDATE,
                json!({ "id": mgr_defect.id.to_string(), "i": { "location": pin(&plan, 0.5, 0.5) } }),
            )
            .await;
        assert_eq!(got, "FORBIDDEN");
        // Moving the pin is journalled like any field.
        let v = app
            .ok(
                &s.engineer,
                UPDATE,
                json!({ "id": id, "i": { "location": pin(&plan, 0.5, 0.75) } }),
            )
            .await;
        assert_eq!(v["updateDefect"]["version"], 2);
        let events = defect_events::Entity::find()
            .order_by_desc(defect_events::Column::Id)
            .all(app.db())
            .await
            .unwrap();
        let changes: Value = serde_json::from_str(&events[0].changes).unwrap();
        assert_eq!(changes[0]["field"], "location", "{changes}");
        let to: Value = serde_json::from_str(changes[0]["to"].as_str().unwrap()).unwrap();
        assert_eq!(
            to,
            json!({ "plan": plan, "x": 0.5, "y": 0.75, "label": null })
        );
        // The filter and the export.
        let list = app.ok(&s.manager, PINNED, json!({ "plan": plan })).await;
        assert_eq!(
            list["defects"]["nodes"],
            json!([{ "title": "Crack", "location": { "x": 0.5, "y": 0.75 } }])
        );
        let res =
            crate::export::fetch(&app, Some(&s.manager.token), &[("plan", plan.clone())]).await;
        let (header, rows) = res.table();
        assert_eq!(header[14..], ["plan", "x", "y", "location"]);
        assert_eq!(rows.len(), 1, "[{}] the plan filter", app.backend);
        assert_eq!(rows[0][0], "TW-001");
        assert_eq!(rows[0][14..], ["L3", "0.5", "0.75", ""]);
        // null removes the pin.
        let v = app
            .ok(
                &s.engineer,
                UPDATE,
                json!({ "id": id, "i": { "location": null } }),
            )
            .await;
        assert!(v["updateDefect"]["location"].is_null());
        let row = defects::Entity::find_by_id(id.as_str().unwrap().parse::<i32>().unwrap())
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                row.plan_id,
                row.location_x,
                row.location_y,
                row.location_label
            ),
            (None, None, None, None)
        );
    }
}

#[tokio::test]
async fn a_plan_with_pinned_defects_cannot_be_deleted() {
    for app in apps().await {
        let s = site(&app).await;
        let body = upload(
            &app,
            &s.manager,
            s.project,
            None,
            "L3",
            "l3.png",
            &files::png(8, 8),
        )
        .await;
        let plan = body["data"]["uploadPlan"]["id"].clone();
        let d = app
            .ok(
                &s.manager,
                CREATE,
                json!({ "i": { "projectId": s.project.to_string(), "title": "Pinned",
                    "location": { "planId": plan, "x": 0.5, "y": 0.5 } } }),
            )
            .await["createDefect"]["id"]
            .clone();
        // A deleted defect keeps its pin (it may come back): still refused.
        app.ok(
            &s.manager,
            "mutation($id: ID!) { deleteDefect(id: $id) }",
            json!({ "id": d }),
        )
        .await;
        let before = app.snapshot().await;
        let plans_before = plan_rows(&app).await;
        for (who, code) in [
            (&s.manager, "CONFLICT"),
            (&s.engineer, "FORBIDDEN"),
            (&s.observer, "FORBIDDEN"),
            (&s.outsider, "NOT_FOUND"),
        ] {
            let got = app
                .code(Some(&who.token), DELETE, json!({ "id": plan }))
                .await;
            assert_eq!(got, code, "[{}]", app.backend);
        }
        assert_eq!(plan_rows(&app).await, plans_before);
        assert_eq!(objects(&app).await.len(), 1, "the file stays");
        assert_eq!(app.snapshot().await, before);
        // Restored and unpinned, the plan goes, with its file.
        app.ok(
            &s.manager,
            "mutation($id: ID!) { restoreDefect(id: $id) { id } }",
            json!({ "id": d }),
        )
        .await;
        app.ok(
            &s.manager,
            UPDATE,
            json!({ "id": d, "i": { "location": null } }),
        )
        .await;
        let gone = app.ok(&s.admin, DELETE, json!({ "id": plan })).await;
        assert_eq!(gone["deletePlan"], plan);
        assert!(plan_rows(&app).await.is_empty());
        assert!(
            objects(&app).await.is_empty(),
            "[{}] the file went too",
            app.backend
        );
        assert_eq!(
            app.code(Some(&s.admin.token), DELETE, json!({ "id": plan }))
                .await,
            "NOT_FOUND"
        );
    }
}

/// The per-project cap holds under parallel uploads: the count is taken in the insert's
/// transaction, with the project's uploads serialised. With the project three short of
/// the cap, eight uploads race: exactly three land, five get BAD_USER_INPUT naming
/// `projectId`, and a refused upload leaves no object in storage. The race is forced:
/// a transaction of the test holds the writes to `plans` until every upload has passed
/// the early count and waits at its INSERT, then lets them all go at once.
#[tokio::test]
async fn parallel_uploads_never_pass_the_per_project_cap() {
    for app in apps().await {
        let s = site(&app).await;
        let cap = usize::try_from(MAX_PER_PROJECT).unwrap();
        let room = 3;
        let racers = room + 5;
        // The filling rows have no objects: only the race's uploads store any.
        let filler = (0..cap - room).map(|i| plans::ActiveModel {
            project_id: Set(s.project),
            title: Set(format!("Sheet {i}")),
            filename: Set("sheet.pdf".into()),
            content_type: Set("application/pdf".into()),
            size: Set(1),
            sha256: Set(String::new()),
            storage_key: Set(format!("filler/{i}")),
            uploaded_by: Set(s.manager.id),
            created_at: Set(Utc::now()),
            ..Default::default()
        });
        plans::Entity::insert_many(filler)
            .exec(app.db())
            .await
            .unwrap();
        let postgres = app.db().get_database_backend() == DbBackend::Postgres;
        let hold = app.db().begin().await.unwrap();
        hold.execute_unprepared(if postgres {
            // Reads (the early count) go on; INSERTs wait.
            "LOCK TABLE plans IN EXCLUSIVE MODE"
        } else {
            // A write takes SQLite's one write lock; readers go on.
            "DELETE FROM plans WHERE id < 0"
        })
        .await
        .unwrap();
        let release = async {
            if postgres {
                let waiting = "SELECT count(*) AS n FROM pg_locks \
                               WHERE NOT granted AND relation = 'plans'::regclass";
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                loop {
                    let row = app
                        .db()
                        .query_one_raw(Statement::from_string(DbBackend::Postgres, waiting))
                        .await
                        .unwrap()
                        .unwrap();
                    if row.try_get::<i64>("", "n").unwrap() == racers as i64 {
                        break;
                    }
                    assert!(
                        std::time::Instant::now() < deadline,
                        "the uploads never met"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            } else {
                // No view of waiting writers: time enough for tiny uploads to reach the
                // INSERT, well inside the 5 s busy timeout.
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            hold.rollback().await.unwrap();
        };
        let png = files::png(10, 10);
        let titles: Vec<String> = (0..racers).map(|i| format!("Race {i}")).collect();
        let uploads = join_all(
            titles
                .iter()
                .map(|t| upload(&app, &s.manager, s.project, None, t, "race.png", &png)),
        );
        let (bodies, ()) = tokio::join!(uploads, release);
        let (landed, refused): (Vec<&Value>, Vec<&Value>) = bodies
            .iter()
            .partition(|b| b["data"]["uploadPlan"].is_object());
        let outcomes: Vec<String> = bodies.iter().map(outcome).collect();
        assert_eq!(landed.len(), room, "[{}] {outcomes:?}", app.backend);
        for body in &refused {
            assert_eq!(outcome(body), "BAD_USER_INPUT", "[{}] {body}", app.backend);
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(message.starts_with("projectId"), "{body}");
        }
        let rows: Vec<plans::Model> = plan_rows(&app)
            .await
            .into_iter()
            .filter(|p| p.project_id == s.project)
            .collect();
        assert_eq!(rows.len(), cap, "[{}]", app.backend);
        // Storage holds exactly the objects of the plans that landed.
        let mut stored = objects(&app).await;
        stored.sort();
        let mut kept: Vec<String> = rows
            .iter()
            .filter(|p| !p.storage_key.starts_with("filler/"))
            .map(|p| p.storage_key.clone())
            .collect();
        kept.sort();
        assert_eq!(stored, kept, "[{}]", app.backend);
        // Full: the next upload is refused too, and stores nothing.
        let body = upload(&app, &s.admin, s.project, None, "One more", "m.png", &png).await;
        assert_eq!(outcome(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(objects(&app).await.len(), room);
    }
}

/// The bounds on what a plan upload and a pin carry: a 201-character title or label and
/// a file over `MAX_UPLOAD_BYTES` are refused with their codes and change nothing.
#[tokio::test]
async fn over_long_titles_labels_and_oversized_files_are_refused() {
    for app in crate::helpers::apps_with(|c| c.max_upload_bytes = 4096).await {
        let s = site(&app).await;
        let big = files::noisy_png(200, 200);
        assert!(big.len() > 4096, "{}", big.len());
        let before = app.snapshot().await;
        let long_title = "x".repeat(201);
        for (title, bytes, code) in [
            (long_title.as_str(), files::png(10, 10), "BAD_USER_INPUT"),
            ("Plan", big, "PAYLOAD_TOO_LARGE"),
        ] {
            let body = upload(&app, &s.manager, s.project, None, title, "a.png", &bytes).await;
            assert_eq!(outcome(&body), code, "[{}] {body}", app.backend);
        }
        assert!(plan_rows(&app).await.is_empty());
        assert!(objects(&app).await.is_empty(), "nothing stored");
        assert_eq!(app.snapshot().await, before);

        let body = upload(
            &app,
            &s.manager,
            s.project,
            None,
            "L3",
            "l3.png",
            &files::png(40, 20),
        )
        .await;
        let plan = body["data"]["uploadPlan"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let before = app.snapshot().await;
        let pin = |label: String| json!({ "planId": plan, "x": 0.5, "y": 0.5, "label": label });
        let got = app
            .code(
                Some(&s.manager.token),
                CREATE,
                json!({ "i": { "projectId": s.project.to_string(), "title": "Crack", "location": pin("x".repeat(201)) } }),
            )
            .await;
        assert_eq!(got, "BAD_USER_INPUT", "[{}]", app.backend);
        assert_eq!(app.snapshot().await, before);
        let ok = app
            .ok(
                &s.manager,
                CREATE,
                json!({ "i": { "projectId": s.project.to_string(), "title": "Crack", "location": pin("x".repeat(200)) } }),
            )
            .await;
        assert_eq!(
            ok["createDefect"]["location"]["label"]
                .as_str()
                .map(str::len),
            Some(200)
        );
    }
}
