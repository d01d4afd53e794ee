//! What a new installation meets first: a storage directory it cannot use is reported
//! at start and by `/ready`, not by the first upload.
use axum::http::StatusCode;
use defect_control::storage::Storage;

use crate::helpers::apps_with;

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
