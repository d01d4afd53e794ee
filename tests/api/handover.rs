//! `GET /api/reports/handover.pdf`: the document read back with poppler's `pdftotext`
//! and `pdfimages` (an independent reader, not our writer), in both languages, with and
//! without photos; who may ask; the synchronous limit, decided before any rendering.
use std::{process::Command, sync::atomic::Ordering};

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use chrono::{Duration, Utc};
use defect_control::{
    domain::{
        defects::{attachments as attachment_service, attachments::Upload, trash},
        plans::service::{self as plan_service, NewPlan},
    },
    entities::enums::{DefectStatus, Role},
};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::{
    builders::{DefectBuilder, ProjectBuilder},
    files,
    helpers::{Actor, TestApp, apps, apps_with},
};

/// Runs a poppler tool on the PDF; its standard output.
fn poppler(tool: &str, args: &[&str], pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new(tool)
        .args(args)
        .arg(&path)
        .args(if tool == "pdftotext" {
            &["-"][..]
        } else {
            &[][..]
        })
        .output()
        .unwrap_or_else(|e| panic!("{tool} (poppler-utils) is needed: {e}"));
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn text(pdf: &[u8]) -> String {
    poppler("pdftotext", &["-enc", "UTF-8"], pdf)
}

/// `(page, width, height)` of every image drawn.
fn images(pdf: &[u8]) -> Vec<(u32, u32, u32)> {
    poppler("pdfimages", &["-list"], pdf)
        .lines()
        .skip(2)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].parse().unwrap(),
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
            )
        })
        .collect()
}

fn pages(pdf: &[u8]) -> u32 {
    poppler("pdfinfo", &[], pdf)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(|n| n.trim().parse().unwrap())
        .unwrap()
}

async fn get(app: &TestApp, who: Option<&Actor>, query: &str) -> (StatusCode, String, Vec<u8>) {
    let mut req = Request::builder().uri(format!("/api/reports/handover.pdf?{query}"));
    if let Some(a) = who {
        req = req.header(header::AUTHORIZATION, format!("Bearer {}", a.token));
    }
    let res = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let kind = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, kind, bytes.to_vec())
}

fn code(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    v["error"]["code"].as_str().unwrap_or("<none>").to_owned()
}

struct Site {
    manager: Actor,
    project: i32,
}

/// A project `HND` with an image plan; `HND-001` pinned on it with two photos and a
/// PDF attachment, overdue; `HND-002` in progress; a deleted defect; and a defect of
/// another project, outside a `project=` filter.
async fn site(app: &TestApp) -> Site {
    let manager = app.actor(Role::Manager).await;
    let engineer = app.actor(Role::Engineer).await;
    let p = ProjectBuilder::new(&manager, "Жилой дом №7")
        .code("HND")
        .member(engineer.id)
        .create(app)
        .await;
    let (db, storage) = (app.db(), &app.state.storage);
    let max = app.state.config.max_upload_bytes;
    let file = |name: &str, bytes: Vec<u8>| Upload {
        filename: name.into(),
        bytes,
    };
    let plan = NewPlan {
        project_id: p.id,
        stage_id: None,
        title: "Этаж 3".into(),
        file: file("l3.png", files::png(1200, 800)),
    };
    let plan = plan_service::upload(db, storage, max, &manager.viewer(), plan)
        .await
        .unwrap();
    let today = Utc::now().date_naive();
    let crack = DefectBuilder::new(p.id, &manager, &manager)
        .title("Трещина в стене")
        .description(Some("Ширина раскрытия 2 мм".into()))
        .deadline(Some(today - Duration::days(5)))
        .pinned(plan.id, 0.25, 0.75)
        .create(app)
        .await;
    for (name, bytes) in [
        ("crack-1.jpg", files::jpeg(640, 480)),
        ("crack-2.jpg", files::jpeg(480, 640)),
        ("spec.pdf", files::pdf()),
    ] {
        attachment_service::upload(
            db,
            storage,
            max,
            &manager.viewer(),
            crack.id,
            file(name, bytes),
        )
        .await
        .unwrap();
    }
    DefectBuilder::new(p.id, &manager, &manager)
        .title("Leaking pipe")
        .performer(Some(engineer.id))
        .status(DefectStatus::InProgress)
        .create(app)
        .await;
    let gone = DefectBuilder::new(p.id, &manager, &manager)
        .title("Deleted defect")
        .create(app)
        .await;
    trash::delete(db, &manager.viewer(), gone.id).await.unwrap();
    let other = ProjectBuilder::new(&manager, "Other site")
        .code("OTH")
        .create(app)
        .await;
    DefectBuilder::new(other.id, &manager, &manager)
        .title("Outside the filter")
        .create(app)
        .await;
    Site {
        manager,
        project: p.id,
    }
}

#[tokio::test]
async fn the_pdf_holds_cover_table_sections_plan_excerpt_and_photos_in_either_language() {
    for app in apps().await {
        let s = site(&app).await;
        let q = format!("project={}&lang=ru", s.project);
        let (status, kind, pdf) = get(&app, Some(&s.manager), &q).await;
        assert_eq!(
            (status, kind.as_str()),
            (StatusCode::OK, "application/pdf"),
            "{}",
            app.backend
        );
        let t = text(&pdf);
        for expected in [
            "Акт передачи дефектов",
            "HND — Жилой дом №7",
            "Дефектов: 2",
            "По статусам",
            "HND-001",
            "Трещина в стене",
            "Ширина раскрытия 2 мм",
            "HND-002",
            "Leaking pipe",
            "просрочен",
            "Этаж 3",
            "spec.pdf",
            "История статусов",
        ] {
            assert!(
                t.contains(expected),
                "{}: {expected:?} missing in:\n{t}",
                app.backend
            );
        }
        for absent in ["Deleted defect", "Outside the filter", "crack-1.jpg"] {
            assert!(!t.contains(absent), "{}: {absent:?} present", app.backend);
        }
        let n = pages(&pdf);
        assert!(n >= 3, "cover, table, sections: {n}");
        for page in 2..=n {
            assert!(
                t.contains(&format!("{page} / {n}")),
                "page {page} of {n} unnumbered"
            );
        }
        assert!(
            !t.contains(&format!("1 / {n}")),
            "the cover carries no number"
        );
        // The plan excerpt (a third of the 1200×800 plan around the pin, at the box's
        // 3:2) and both photos.
        let drawn = images(&pdf);
        assert_eq!(drawn.len(), 3, "{drawn:?}");
        assert!(
            drawn.iter().any(|(_, w, h)| (*w, *h) == (400, 266)),
            "{drawn:?}"
        );
        assert!(
            drawn.iter().any(|(_, w, h)| (*w, *h) == (640, 480)),
            "{drawn:?}"
        );
        assert!(
            drawn.iter().any(|(_, w, h)| (*w, *h) == (480, 640)),
            "{drawn:?}"
        );

        let q = format!("project={}&photos=false", s.project);
        let (status, _, pdf) = get(&app, Some(&s.manager), &q).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(images(&pdf), [], "photos=false: no image at all");
        let t = text(&pdf);
        for expected in [
            "Handover report",
            "Defects: 2",
            "overdue",
            "crack-1.jpg",
            "spec.pdf",
        ] {
            assert!(t.contains(expected), "{expected:?} missing in:\n{t}");
        }
    }
}

#[tokio::test]
async fn only_managers_and_admins_get_it_and_bad_parameters_are_named() {
    for app in apps().await {
        let s = site(&app).await;
        let admin = app.actor(Role::Admin).await;
        let (status, _, _) = get(&app, Some(&admin), "").await;
        assert_eq!(status, StatusCode::OK);
        for role in [Role::Engineer, Role::Observer] {
            let who = app.actor(role).await;
            let (status, _, body) = get(&app, Some(&who), "lang=fr").await;
            assert_eq!(
                (status, code(&body).as_str()),
                (StatusCode::FORBIDDEN, "FORBIDDEN"),
                "{role:?}"
            );
        }
        let (status, _, body) = get(&app, None, "").await;
        assert_eq!(
            (status, code(&body).as_str()),
            (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
        );
        for q in [
            "lang=fr",
            "photos=maybe",
            "bom=true",
            "project=x",
            "lang=en&lang=ru",
        ] {
            let (status, _, body) = get(&app, Some(&s.manager), q).await;
            assert_eq!(
                (status, code(&body).as_str()),
                (StatusCode::BAD_REQUEST, "BAD_USER_INPUT"),
                "{q}"
            );
        }
    }
}

#[tokio::test]
async fn above_the_sync_limit_it_is_refused_after_a_count_and_nothing_else() {
    for app in apps_with(|c| c.handover_sync_max = 1).await {
        let s = site(&app).await;
        let before = app.statements.load(Ordering::SeqCst);
        let (status, _, body) =
            get(&app, Some(&s.manager), &format!("project={}", s.project)).await;
        let refused = app.statements.load(Ordering::SeqCst) - before;
        assert_eq!(
            (status, code(&body).as_str()),
            (StatusCode::BAD_REQUEST, "BAD_USER_INPUT")
        );
        assert!(String::from_utf8_lossy(&body).contains("requestDocument"));
        // One matching defect is within the limit and renders.
        let before = app.statements.load(Ordering::SeqCst);
        let q = format!("project={}&status=in_progress", s.project);
        let (status, kind, _) = get(&app, Some(&s.manager), &q).await;
        let rendered = app.statements.load(Ordering::SeqCst) - before;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/pdf"));
        // The refusal ran the count's statements only, none of the rendering's.
        assert!(
            refused <= 10 && refused * 2 < rendered,
            "refused {refused}, rendered {rendered}"
        );
    }
}
