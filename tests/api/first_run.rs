//! What a new installation meets first: a storage directory it cannot use, or a
//! database it cannot write, is reported at start and by `/ready`, not by the first
//! upload or login.
use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use defect_control::{config::Config, db, state::AppState, storage::Storage};
use http_body_util::BodyExt;
use sea_orm::ConnectionTrait;
use tower::ServiceExt;

use crate::helpers::{apps, apps_with};

#[tokio::test]
async fn a_storage_directory_that_cannot_be_written_fails_ready() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    let url = media.display().to_string();
    for app in apps_with(|c| c.storage_url = url.clone()).await {
        assert_eq!(app.get("/ready", None).await.status, StatusCode::OK);
        // The directory goes away and a file takes its place: nothing can be written.
        std::fs::remove_dir_all(&media).unwrap();
        std::fs::write(&media, b"not a directory").unwrap();
        let res = app.get("/ready", None).await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.body["error"]["code"], "SERVICE_UNAVAILABLE");
        let message = res.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("not writable"), "{message}");
        std::fs::remove_file(&media).unwrap();
        std::fs::create_dir(&media).unwrap();
        assert_eq!(app.get("/ready", None).await.status, StatusCode::OK);
    }
}

#[test]
fn a_storage_path_that_cannot_be_a_directory_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let err = Storage::from_url(&file.join("media").display().to_string())
        .err()
        .expect("refused");
    assert_eq!(err.key, "STORAGE_URL");
    // The probe leaves nothing behind in a directory that works.
    let ok = dir.path().join("ok");
    Storage::from_url(&ok.display().to_string()).expect("usable");
    assert_eq!(std::fs::read_dir(&ok).unwrap().count(), 0);
}

/// `GET /ready` of a fresh app on `url` in `lang`: status and body.
async fn ready_on(url: &str, lang: &str) -> (StatusCode, serde_json::Value) {
    let conn = db::connect(url, None).await.expect("connect");
    let state = AppState::new(conn, Config::for_database(url)).expect("state");
    let res = defect_control::app(state)
        .oneshot(
            Request::get("/ready")
                .header("Accept-Language", lang)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn a_database_that_cannot_be_written_fails_ready() {
    for app in apps().await {
        let url = app.state.config.database_url.clone();
        assert_eq!(
            ready_on(&url, "en").await.0,
            StatusCode::OK,
            "[{}]",
            app.backend
        );
        let read_only_url = if app.backend == "sqlite" {
            // A file the server's user may not write: SQLite opens it read-only. Root
            // writes whatever the mode bits say, so there the pool is opened with
            // `mode=ro`, which gives the same read-only connection.
            let path = url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .unwrap()
                .to_owned();
            let mut perms = std::fs::metadata(&path).unwrap().permissions();
            perms.set_readonly(true);
            std::fs::set_permissions(&path, perms).unwrap();
            let root = std::fs::OpenOptions::new().write(true).open(&path).is_ok();
            if root {
                url.replace("mode=rwc", "mode=ro")
            } else {
                url.clone()
            }
        } else {
            // New sessions of the test's own database are read-only, as on a standby.
            let name = url.rsplit('/').next().unwrap().split('?').next().unwrap();
            app.db()
                .execute_unprepared(&format!(
                    "ALTER DATABASE {name} SET default_transaction_read_only = on"
                ))
                .await
                .unwrap();
            url.clone()
        };
        let (status, body) = ready_on(&read_only_url, "en").await;
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "[{}] {body}",
            app.backend
        );
        assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
        assert_eq!(
            body["error"]["message"],
            "the database is read-only: nothing can be saved"
        );
        let (_, body) = ready_on(&read_only_url, "ru").await;
        assert_eq!(
            body["error"]["message"],
            "база данных доступна только для чтения: сохранить ничего нельзя"
        );
    }
}
