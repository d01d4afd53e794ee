//! Uploads through the GraphQL multipart spec, validation by content, signed downloads,
//! the permission matrix, and storage kept consistent with the database.
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use crate::{
    builders::new_defect,
    defects::{World, world},
    files::{self, upload_request},
    helpers::{Actor, TestApp, apps_with, outcome},
};

const DELETE_ATTACHMENT: &str = r"
    mutation($id: ID!) {
      deleteAttachment(id: $id)
    }
";

async fn upload(app: &TestApp, actor: &Actor, defect: &Value, name: &str, bytes: &[u8]) -> Value {
    let res = app
        .request(upload_request(
            Some(&actor.token),
            defect.as_str().unwrap(),
            name,
            bytes,
        ))
        .await;
    res.body
}

/// The raw bytes and headers of a GET.
async fn fetch(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
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
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

async fn objects(app: &TestApp) -> Vec<String> {
    app.state.storage.list("").await.expect("list")
}

/// Each test runs on the in-memory store and on a local directory, on every database;
/// every app gets a store of its own. The directory lives as long as the returned guard.
async fn stores() -> (Vec<TestApp>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    let mut out = apps_with(|c| c.storage_url = "memory://".into()).await;
    let local = || {
        dir.path()
            .join(format!(
                "media-{}",
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            ))
            .display()
            .to_string()
    };
    out.extend(apps_with(|c| c.storage_url = local()).await);
    (out, dir)
}

#[tokio::test]
async fn photos_and_pdfs_upload_and_download_byte_for_byte() {
    let (apps, _media) = stores().await;
    for app in apps {
        let w = world(&app).await;
        let d = new_defect(&app, &w.cast.manager, &w.project, "Leak").await;
        type Case = (&'static str, Vec<u8>, &'static str, Option<(u32, u32)>);
        let cases: Vec<Case> = vec![
            (
                "site photo.png",
                files::png(640, 480),
                "image/png",
                Some((640, 480)),
            ),
            (
                "фото трещины.jpg",
                files::jpeg(1000, 250),
                "image/jpeg",
                Some((1000, 250)),
            ),
            (
                "detail.webp",
                files::webp(100, 300),
                "image/webp",
                Some((100, 300)),
            ),
            (
                "act of inspection.pdf",
                files::pdf(),
                "application/pdf",
                None,
            ),
        ];
        for (name, bytes, content_type, dims) in &cases {
            let body = upload(&app, &w.cast.manager, &d, name, bytes).await;
            let a = &body["data"]["uploadAttachment"];
            assert!(a.is_object(), "[{}] {name}: {body}", app.backend);
            assert_eq!(a["filename"], *name);
            assert_eq!(a["contentType"], *content_type);
            assert_eq!(a["size"], bytes.len());
            assert_eq!(a["sha256"], hex::encode(Sha256::digest(bytes)));
            assert_eq!(a["width"], dims.map_or(Value::Null, |d| json!(d.0)));
            assert_eq!(a["height"], dims.map_or(Value::Null, |d| json!(d.1)));
            assert_eq!(
                a["uploadedBy"]["username"],
                w.cast.manager.username.as_str()
            );

            // The signed link needs no header.
            let (status, headers, got) = fetch(&app, a["url"].as_str().unwrap(), None).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(&got, bytes, "byte for byte");
            assert_eq!(headers["content-type"], *content_type);
            assert_eq!(headers["x-content-type-options"], "nosniff");
            let disposition = headers["content-disposition"].to_str().unwrap();
            assert!(disposition.contains("filename*=UTF-8''"), "{disposition}");
            // A bearer header works too.
            let id = a["id"].as_str().unwrap();
            let (status, _, got) = fetch(
                &app,
                &format!("/api/attachments/{id}/file"),
                Some(&w.cast.observer.token),
            )
            .await;
            assert_eq!((status, &got), (StatusCode::OK, bytes));

            match dims {
                Some(_) => {
                    let (status, headers, thumb) =
                        fetch(&app, a["thumbnailUrl"].as_str().unwrap(), None).await;
                    assert_eq!(status, StatusCode::OK);
                    assert_eq!(headers["content-type"], "image/jpeg");
                    let t = image::load_from_memory(&thumb).unwrap();
                    assert!(
                        t.width().max(t.height()) <= 320,
                        "{}x{}",
                        t.width(),
                        t.height()
                    );
                }
                None => assert!(a["thumbnailUrl"].is_null()),
            }
        }
        // Cyrillic names survive in the header.
        let detail = app
            .ok(
                &w.cast.manager,
                r"
                query($id: ID!) {
                  defect(id: $id) {
                    version
                    attachments { filename url }
                  }
                }
                ",
                json!({ "id": d }),
            )
            .await;
        let list = detail["defect"]["attachments"].as_array().unwrap();
        assert_eq!(list.len(), 4);
        assert_eq!(
            detail["defect"]["version"], 1,
            "attachments do not bump the version"
        );
        let (_, headers, _) = fetch(&app, list[1]["url"].as_str().unwrap(), None).await;
        assert!(
            headers["content-disposition"]
                .to_str()
                .unwrap()
                .contains("%D1%84%D0%BE%D1%82%D0%BE")
        );
        // Four originals and three thumbnails are stored.
        assert_eq!(objects(&app).await.len(), 7);
    }
}

#[tokio::test]
async fn bad_files_get_a_coded_error_and_leave_nothing_behind() {
    let (apps, _media) = stores().await;
    for app in apps {
        let w = world(&app).await;
        let d = new_defect(&app, &w.cast.manager, &w.project, "Leak").await;
        let mut truncated = files::png(200, 200);
        truncated.truncate(truncated.len() / 2);
        let mut cut_pdf = files::pdf();
        cut_pdf.truncate(20);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "notes.png",
                b"this is plain text pretending to be a PNG".to_vec(),
            ),
            ("broken.png", truncated),
            ("bomb.png", files::png_bomb()),
            ("empty.jpg", Vec::new()),
            ("cut.pdf", cut_pdf),
            (
                "script.html",
                b"<html><script>alert(1)</script></html>".to_vec(),
            ),
        ];
        for (name, bytes) in cases {
            let before = app.snapshot().await;
            let body = upload(&app, &w.cast.manager, &d, name, &bytes).await;
            assert_eq!(
                outcome(&body),
                "BAD_USER_INPUT",
                "[{}] {name}: {body}",
                app.backend
            );
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("file")
            );
            assert_eq!(app.snapshot().await, before);
            assert_eq!(app.count("attachments").await, 0);
            assert!(objects(&app).await.is_empty(), "{name} left objects behind");
        }
        // A path in the filename is metadata only, reduced to its last part.
        let body = upload(
            &app,
            &w.cast.manager,
            &d,
            "../../etc/passwd.png",
            &files::png(10, 10),
        )
        .await;
        assert_eq!(body["data"]["uploadAttachment"]["filename"], "passwd.png");
        assert!(
            objects(&app)
                .await
                .iter()
                .all(|k| k.starts_with("attachments/")),
            "generated keys only"
        );
    }
}

/// The PNG decoder inflates a colour profile (`iCCP`) while it reads the header, up to
/// its allocation limit. One that inflates past 1 MiB (here also 64 MiB of zeros in
/// 64 KB) is refused before a decoder sees it; a profile of ordinary size is kept (the
/// file is stored as sent).
#[tokio::test]
async fn a_colour_profile_over_1_mib_inflated_is_refused_and_stores_nothing() {
    let bomb = files::png_with_profile(64 * 1024 * 1024);
    let over = files::png_with_profile(1024 * 1024 + 1);
    let ordinary = files::png_with_profile(1024 * 1024);
    assert!(bomb.len() < 100 * 1024, "{} bytes", bomb.len());
    let (apps, _media) = stores().await;
    for app in apps {
        let w = world(&app).await;
        let d = new_defect(&app, &w.cast.manager, &w.project, "Profile").await;
        for (name, bytes) in [("bomb.png", &bomb), ("over.png", &over)] {
            let before = app.snapshot().await;
            let body = upload(&app, &w.cast.manager, &d, name, bytes).await;
            assert_eq!(
                outcome(&body),
                "BAD_USER_INPUT",
                "[{}] {name}: {body}",
                app.backend
            );
            assert_eq!(
                body["errors"][0]["message"],
                "file: the image's colour profile is too large (at most 1 MiB)"
            );
            assert_eq!(app.snapshot().await, before);
            assert!(objects(&app).await.is_empty(), "{name} left objects behind");
        }
        let body = upload(&app, &w.cast.manager, &d, "profiled.png", &ordinary).await;
        let a = &body["data"]["uploadAttachment"];
        assert_eq!(a["width"], 8, "[{}] {body}", app.backend);
        let stored = Sha256::digest(&ordinary);
        assert_eq!(a["sha256"], hex::encode(stored), "stored as sent");
        assert_eq!(app.count("attachments").await, 1);
    }
}

#[tokio::test]
async fn an_oversize_upload_is_payload_too_large_and_stores_nothing() {
    let limit = 64 * 1024;
    for app in apps_with(|c| c.max_upload_bytes = limit).await {
        let w = world(&app).await;
        let d = new_defect(&app, &w.cast.manager, &w.project, "Leak").await;
        let big = files::noisy_png(200, 200);
        assert!(big.len() as u64 > limit, "{}", big.len());
        let res = app
            .request(upload_request(
                Some(&w.cast.manager.token),
                d.as_str().unwrap(),
                "big.png",
                &big,
            ))
            .await;
        assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", res.body);
        assert_eq!(
            res.body["errors"][0]["extensions"]["code"],
            "PAYLOAD_TOO_LARGE"
        );
        assert_eq!(app.count("attachments").await, 0);
        assert!(objects(&app).await.is_empty());
        // Just under the limit works.
        let small = files::png(40, 40);
        let body = upload(&app, &w.cast.manager, &d, "small.png", &small).await;
        assert_eq!(outcome(&body), "OK", "{body}");
    }
}

#[tokio::test]
async fn links_are_bound_to_one_file_and_expire() {
    let (apps, _media) = stores().await;
    for app in apps {
        let w = world(&app).await;
        let d = new_defect(&app, &w.cast.manager, &w.project, "Leak").await;
        let a = upload(
            &app,
            &w.cast.manager,
            &d,
            "a.png",
            &files::png(20, 20),
        )
        .await["data"]["uploadAttachment"]
            .clone();
        let b = upload(
            &app,
            &w.cast.manager,
            &d,
            "b.png",
            &files::png(30, 30),
        )
        .await["data"]["uploadAttachment"]
            .clone();
        let a_url = a["url"].as_str().unwrap();
        let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
        let query = a_url.split_once('?').unwrap().1;
        // A's signature does not open B, nor A's thumbnail under another name.
        assert_eq!(
            fetch(&app, &format!("/api/attachments/{b_id}/file?{query}"), None)
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            fetch(
                &app,
                &format!("/api/attachments/{a_id}/thumbnail?{query}"),
                None
            )
            .await
            .0,
            StatusCode::FORBIDDEN
        );
        let mut tampered = a_url.to_owned();
        tampered.pop();
        tampered.push(if a_url.ends_with('0') { '1' } else { '0' });
        assert_eq!(fetch(&app, &tampered, None).await.0, StatusCode::FORBIDDEN);
        let id: i32 = a_id.parse().unwrap();
        let expired = app
            .state
            .links
            .url(id, defect_control::storage::FileKind::Original, 1_000);
        let (status, _, body) = fetch(&app, &expired, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap()["error"]["code"],
            "FORBIDDEN"
        );
        // Neither link nor token: 401. A token of someone who cannot see it: 404.
        assert_eq!(
            fetch(&app, &format!("/api/attachments/{a_id}/file"), None)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            fetch(
                &app,
                &format!("/api/attachments/{a_id}/file"),
                Some(&w.cast.outsider.token)
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            fetch(
                &app,
                "/api/attachments/999999/file",
                Some(&w.cast.admin.token)
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            fetch(
                &app,
                "/api/attachments/x'or'1/file",
                Some(&w.cast.admin.token)
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn uploads_and_deletions_follow_the_matrix() {
    let (apps, _media) = stores().await;
    for app in apps {
        let World { cast, project, .. } = world(&app).await;
        let own = new_defect(&app, &cast.engineer, &project, "Mine").await;
        let others = new_defect(&app, &cast.manager, &project, "Theirs").await;
        let png = files::png(16, 16);
        for (actor, defect, code) in [
            (&cast.observer, &own, "FORBIDDEN"),
            (&cast.engineer, &others, "FORBIDDEN"),
            (&cast.outsider, &own, "NOT_FOUND"),
        ] {
            let before = app.snapshot().await;
            assert_eq!(
                outcome(&upload(&app, actor, defect, "x.png", &png).await),
                code,
                "{}",
                actor.username
            );
            assert_eq!(app.snapshot().await, before);
            assert!(objects(&app).await.is_empty());
        }
        let mine =
            upload(&app, &cast.engineer, &own, "mine.png", &png).await["data"]["uploadAttachment"]
                ["id"]
                .clone();
        let by_manager = upload(&app, &cast.manager, &own, "mgr.png", &png).await["data"]["uploadAttachment"]["id"].clone();
        let admin_file = upload(&app, &cast.admin, &others, "adm.png", &png).await["data"]["uploadAttachment"]["id"].clone();
        assert_eq!(objects(&app).await.len(), 6);
        let del = DELETE_ATTACHMENT;
        for (actor, id, code) in [
            (&cast.engineer, &by_manager, "FORBIDDEN"),
            (&cast.observer, &mine, "FORBIDDEN"),
            (&cast.outsider, &mine, "NOT_FOUND"),
        ] {
            assert_eq!(
                app.code(Some(&actor.token), del, json!({ "id": id })).await,
                code
            );
        }
        assert_eq!(objects(&app).await.len(), 6, "refusals removed nothing");
        app.ok(&cast.engineer, del, json!({ "id": mine })).await;
        app.ok(&cast.manager, del, json!({ "id": by_manager }))
            .await;
        assert_eq!(
            objects(&app).await.len(),
            2,
            "each deletion removes the file and its thumbnail"
        );
        // A final defect keeps its files and takes no new ones.
        app.ok(
            &cast.manager,
            r"
            mutation($id: ID!) {
              changeDefectStatus(id: $id, status: CANCELLED) { status }
            }
            ",
            json!({ "id": others }),
        )
        .await;
        assert_eq!(
            outcome(&upload(&app, &cast.manager, &others, "late.png", &png).await),
            "BAD_USER_INPUT"
        );
        assert_eq!(
            app.code(Some(&cast.manager.token), del, json!({ "id": admin_file }))
                .await,
            "BAD_USER_INPUT"
        );
        // Deleting the defect keeps its files (soft delete); purging removes the objects.
        app.ok(
            &cast.manager,
            r"
            mutation($id: ID!) {
              deleteDefect(id: $id)
            }
            ",
            json!({ "id": others }),
        )
        .await;
        assert!(!objects(&app).await.is_empty());
        app.ok(
            &cast.admin,
            "mutation($id: ID!) { purgeDefect(id: $id) }",
            json!({ "id": others }),
        )
        .await;
        assert!(objects(&app).await.is_empty());
        assert_eq!(app.count("attachments").await, 0);
    }
}

#[tokio::test]
async fn a_failed_database_write_removes_the_stored_objects() {
    let (apps, _media) = stores().await;
    for app in apps {
        let w = world(&app).await;
        let d = new_defect(&app, &w.cast.manager, &w.project, "Leak").await;
        // Make the row write fail after the objects were stored.
        app.db()
            .execute_unprepared("DROP TABLE attachments")
            .await
            .unwrap();
        let body = upload(&app, &w.cast.manager, &d, "x.png", &files::png(32, 32)).await;
        assert_eq!(outcome(&body), "INTERNAL_SERVER_ERROR", "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(!message.contains("attachments"), "no SQL in {message}");
        assert!(
            objects(&app).await.is_empty(),
            "the stored objects were removed"
        );
    }
}

#[tokio::test]
async fn a_failed_storage_write_writes_no_row() {
    let root = tempfile::tempdir().unwrap();
    let media = root.path().join("media");
    let url = media.display().to_string();
    for app in apps_with(|c| c.storage_url = url.clone()).await {
        let w = world(&app).await;
        let d = new_defect(&app, &w.cast.manager, &w.project, "Leak").await;
        // The media directory becomes a plain file: every write fails.
        std::fs::remove_dir_all(&media).ok();
        std::fs::write(&media, b"not a directory").unwrap();
        let before = app.snapshot().await;
        let body = upload(&app, &w.cast.manager, &d, "x.png", &files::png(32, 32)).await;
        assert_eq!(outcome(&body), "INTERNAL_SERVER_ERROR", "{body}");
        assert_eq!(app.count("attachments").await, 0);
        assert_eq!(app.snapshot().await, before);
        std::fs::remove_file(&media).unwrap();
        std::fs::create_dir_all(&media).unwrap();
    }
}

/// A stock multipart client over a real socket: curl's `-F`, exactly as the README shows.
#[tokio::test]
async fn curl_uploads_with_the_readme_command() {
    for app in apps_with(|c| c.storage_url = "memory://".into()).await {
        let w = world(&app).await;
        let d = new_defect(&app, &w.cast.manager, &w.project, "Leak").await;
        let dir = tempfile::tempdir().unwrap();
        let photo = dir.path().join("photo.jpg");
        let bytes = files::jpeg(300, 200);
        std::fs::write(&photo, &bytes).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = app.router.clone();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
        });
        let operations = json!({
            "query": "mutation($d: ID!, $f: Upload!) { uploadAttachment(defectId: $d, file: $f) { id sha256 url } }",
            "variables": { "d": d, "f": null }
        });
        let out = tokio::process::Command::new("curl")
            .args([
                "-s",
                &format!("http://{addr}/graphql"),
                "-H",
                &format!("Authorization: Bearer {}", w.cast.manager.token),
            ])
            .args([
                "-F",
                &format!("operations={operations}"),
                "-F",
                r#"map={"0":["variables.f"]}"#,
            ])
            .args(["-F", &format!("0=@{}", photo.display())])
            .output()
            .await
            .expect("curl runs");
        let body: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stdout)));
        let a = &body["data"]["uploadAttachment"];
        assert_eq!(a["sha256"], hex::encode(Sha256::digest(&bytes)), "{body}");
        // Absolute, from the request's Host: usable in an <img src> of another origin.
        let url = a["url"].as_str().unwrap().to_owned();
        assert!(
            url.starts_with(&format!("http://{addr}/api/attachments/")),
            "{url}"
        );
        let got = tokio::process::Command::new("curl")
            .args(["-s", &url])
            .output()
            .await
            .unwrap()
            .stdout;
        assert_eq!(got, bytes);
        server.abort();
    }
}

/// The S3 path against a real S3-compatible endpoint (CI starts moto's server and sets
/// TEST_S3_URL and the AWS_* variables).
#[cfg(feature = "s3")]
#[tokio::test]
async fn uploads_round_trip_through_s3() {
    let url = std::env::var("TEST_S3_URL")
        .expect("set TEST_S3_URL (e.g. s3://bucket/prefix) and AWS_* to run the S3 tests");
    // A fresh prefix per run and backend, so leftovers of another run cannot interfere.
    let n = std::sync::atomic::AtomicUsize::new(0);
    let fresh = || {
        format!(
            "{}/run-{}-{}",
            url.trim_end_matches('/'),
            std::process::id(),
            n.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        )
    };
    for app in apps_with(|c| c.storage_url = fresh()).await {
        let w = world(&app).await;
        let d = new_defect(&app, &w.cast.manager, &w.project, "Leak").await;
        let bytes = files::png(500, 500);
        let a =
            upload(&app, &w.cast.manager, &d, "s3.png", &bytes).await["data"]["uploadAttachment"]
                .clone();
        let (status, _, got) = fetch(&app, a["url"].as_str().unwrap(), None).await;
        assert_eq!((status, got), (StatusCode::OK, bytes));
        let keys = objects(&app).await;
        assert_eq!(keys.len(), 2, "{keys:?}");
        app.ok(&w.cast.manager, DELETE_ATTACHMENT, json!({ "id": a["id"] }))
            .await;
        assert!(objects(&app).await.is_empty());
    }
}

#[tokio::test]
async fn links_use_the_configured_public_url() {
    for app in apps_with(|c| {
        c.storage_url = "memory://".into();
        c.public_url = Some("https://defects.example.com".into());
    })
    .await
    {
        let w = world(&app).await;
        let d = new_defect(&app, &w.cast.manager, &w.project, "Leak").await;
        let a = upload(
            &app,
            &w.cast.manager,
            &d,
            "a.png",
            &files::png(20, 20),
        )
        .await["data"]["uploadAttachment"]
            .clone();
        for field in ["url", "thumbnailUrl"] {
            let link = a[field].as_str().unwrap();
            assert!(
                link.starts_with("https://defects.example.com/api/attachments/"),
                "{link}"
            );
            // The path part opens the file.
            let path = link.trim_start_matches("https://defects.example.com");
            assert_eq!(fetch(&app, path, None).await.0, StatusCode::OK);
        }
    }
}
