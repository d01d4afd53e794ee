//! The real binary as a separate process: its memory under image-decoding bombs, and its
//! access log at the default log level.
use std::{
    io::Cursor,
    process::Stdio,
    time::{Duration, Instant},
};

use sea_orm::EntityTrait;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    process::{Child, Command},
};

struct Server {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Server {
    /// `serve --seed seed/demo.json` on a fresh SQLite file, default `RUST_LOG`.
    async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/dc.db?mode=rwc", dir.path().display());
        Server::spawn(&url, true, &[], dir).await
    }

    /// `serve` on `database_url` (seeded when `seed`), with extra environment.
    async fn spawn(
        database_url: &str,
        seed: bool,
        env: &[(&str, &str)],
        dir: tempfile::TempDir,
    ) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let seed_file = concat!(env!("CARGO_MANIFEST_DIR"), "/seed/demo.json");
        let mut args = vec!["serve"];
        if seed {
            args.extend(["--seed", seed_file]);
        }
        let child = Command::new(env!("CARGO_BIN_EXE_defect-control"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("STORAGE_URL", dir.path().join("media"))
            .env("BIND_ADDR", &addr)
            .env("JWT_SECRET", "process-test-secret-process-test-secret")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the server binary");
        let server = Server {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = server.call("GET", "/health", &[], Vec::new()).await
                && r.0 == 200
            {
                break;
            }
            assert!(Instant::now() < deadline, "the server did not come up");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        server
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// One request on its own connection: (status, body).
    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let mut s = TcpStream::connect(&self.addr).await?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).await?;
        s.write_all(&body).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        let split = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| std::io::Error::other("no head"))?;
        let status = std::str::from_utf8(&out[9..12])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok((status, out[split + 4..].to_vec()))
    }

    async fn json(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let mut headers = vec![("Content-Type", "application/json".to_owned())];
        if let Some(t) = token {
            headers.push(("Authorization", format!("Bearer {t}")));
        }
        let (_, body) = self
            .call("POST", path, &headers, body.to_string().into_bytes())
            .await
            .unwrap();
        serde_json::from_slice(&body).unwrap()
    }
}

/// `VmRSS` or `VmHWM` (the peak) of a process, in KiB.
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim_start_matches(':').trim().split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn black_png(side: u32) -> Vec<u8> {
    let img = image::RgbImage::new(side, side);
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn multipart(defect: &str, png: &[u8]) -> (String, Vec<u8>) {
    let boundary = "dcboundary7MA4YWxkTrZu0gW";
    let operations = json!({
        "query": "mutation($d: ID!, $f: Upload!) { uploadAttachment(defectId: $d, file: $f) { id width height } }",
        "variables": { "d": defect, "f": null }
    });
    let mut body = Vec::new();
    for (name, value) in [
        ("operations", operations.to_string()),
        ("map", json!({ "0": ["variables.f"] }).to_string()),
    ] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"bomb.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(png);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Logs in as the seeded manager and creates a defect to attach files to:
/// (token, defect id).
async fn attach_target(server: &Server) -> (String, String) {
    let login = server
        .json(
            "/api/auth/login/",
            None,
            json!({ "username": "manager", "password": "manager12345" }),
        )
        .await;
    let token = login["access"].as_str().expect("logged in").to_owned();
    let created = server
        .json(
            "/graphql",
            Some(&token),
            json!({ "query": "mutation { createDefect(input: { projectId: \"1\", title: \"Bomb target\", priority: LOW }) { id } }" }),
        )
        .await;
    let defect = created["data"]["createDefect"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    (token, defect)
}

/// `uploadAttachment` of one PNG on its own connection: (status, body).
async fn upload_png(server: &Server, token: &str, defect: &str, png: &[u8]) -> (u16, Value) {
    let (ctype, body) = multipart(defect, png);
    let headers = vec![
        ("Content-Type", ctype),
        ("Authorization", format!("Bearer {token}")),
    ];
    let (status, body) = server
        .call("POST", "/graphql", &headers, body)
        .await
        .unwrap();
    (status, serde_json::from_slice::<Value>(&body).unwrap())
}

/// Twelve concurrent uploads of a 7000×7000 PNG (49 MP, 147 MB as RGB, ~150 KB as a
/// file) used to grow the server by 1.7 GB. Decoding now reserves its bitmap from a
/// fixed budget, so the growth stays far below 600 MB; every upload still succeeds.
#[tokio::test]
async fn twelve_concurrent_49_megapixel_uploads_stay_within_600_mb() {
    let run = async {
        let server = Server::start().await;
        let (token, defect) = attach_target(&server).await;
        let upload = |png: Vec<u8>| {
            let (server, token, defect) = (&server, &token, &defect);
            async move { upload_png(server, token, defect, &png).await }
        };
        // Warm-up: one small image, so the baseline includes the code paths' own memory.
        let (status, body) = upload(black_png(64)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["uploadAttachment"]["width"], 64, "{body}");
        let pid = server.pid();
        let baseline = memory_kib(pid, "VmRSS");

        let bomb = black_png(7000);
        assert!(
            bomb.len() < 1024 * 1024,
            "a small file: {} bytes",
            bomb.len()
        );
        let started = Instant::now();
        let results = futures_util::future::join_all((0..12).map(|_| upload(bomb.clone()))).await;
        let took = started.elapsed();
        let peak = memory_kib(pid, "VmHWM");
        for (status, body) in &results {
            assert_eq!(*status, 200, "{body}");
            assert_eq!(body["data"]["uploadAttachment"]["width"], 7000, "{body}");
        }
        let grown_mb = peak.saturating_sub(baseline) / 1024;
        eprintln!(
            "12 × 49 MP PNG: baseline {} MB, peak {} MB, grew {grown_mb} MB, {took:?}",
            baseline / 1024,
            peak / 1024
        );
        assert!(grown_mb < 600, "grew by {grown_mb} MB");
    };
    tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("finished within 4 minutes");
}

/// Files under a directory, at any depth.
fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| {
                if e.path().is_dir() {
                    files_under(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

/// An 8×8 PNG whose colour profile (`iCCP`) is 512 MiB of zeros in ~520 KB: the PNG
/// decoder inflated it while reading the header (on a runtime thread to size the decode,
/// then again in the decode), up to the image crate's 512 MiB allocation limit: 1.1 GB
/// per upload. Four at once are now refused before any decoder runs, the server grows by
/// a few MB, and nothing is stored.
#[tokio::test]
async fn colour_profile_bombs_are_refused_without_being_inflated() {
    let run = async {
        let server = Server::start().await;
        let (token, defect) = attach_target(&server).await;
        let (status, body) = upload_png(&server, &token, &defect, &black_png(64)).await;
        assert_eq!(status, 200, "{body}");
        let pid = server.pid();
        let baseline = memory_kib(pid, "VmRSS");
        let media = server._dir.path().join("media");
        let stored = files_under(&media);
        assert!(stored > 0, "the warm-up upload is in {}", media.display());

        let bomb = crate::files::png_with_profile(512 * 1024 * 1024);
        assert!(bomb.len() < 600 * 1024, "{} bytes", bomb.len());
        let started = Instant::now();
        let results = futures_util::future::join_all(
            (0..4).map(|_| upload_png(&server, &token, &defect, &bomb)),
        )
        .await;
        let took = started.elapsed();
        let peak = memory_kib(pid, "VmHWM");
        for (status, body) in &results {
            assert_eq!(*status, 200, "{body}");
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{body}"
            );
            assert_eq!(
                body["errors"][0]["message"],
                "file: the image's colour profile is too large (at most 1 MiB)"
            );
        }
        let attachments = server
            .json(
                "/graphql",
                Some(&token),
                json!({
                    "query": "query($id: ID!) { defect(id: $id) { attachments { id } } }",
                    "variables": { "id": defect },
                }),
            )
            .await;
        assert_eq!(
            attachments["data"]["defect"]["attachments"]
                .as_array()
                .map(Vec::len),
            Some(1),
            "the warm-up only: {attachments}"
        );
        assert_eq!(files_under(&media), stored, "nothing stored");
        let grown_mb = peak.saturating_sub(baseline) / 1024;
        eprintln!(
            "4 × 512 MiB colour-profile PNG: baseline {} MB, peak {} MB, grew {grown_mb} MB, {took:?}",
            baseline / 1024,
            peak / 1024
        );
        assert!(grown_mb < 64, "grew by {grown_mb} MB");
    };
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("finished within 2 minutes");
}

/// The README promises one line per request at the default level (`info`), with
/// method, path, status, duration and the request id; a hostile id never reaches it.
#[tokio::test]
async fn every_request_gets_one_access_log_line_at_the_default_level() {
    let mut server = Server::start().await;
    let (status, _) = server
        .call(
            "GET",
            "/health",
            &[("X-Request-ID", "probe-log-1".into())],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (status, _) = server
        .call(
            "GET",
            "/no/such/path",
            &[("X-Request-ID", "forged\" status=200 x=\"".into())],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.child.start_kill().unwrap();
    let mut out = String::new();
    let mut stdout = server.child.stdout.take().unwrap();
    tokio::time::timeout(Duration::from_secs(10), stdout.read_to_string(&mut out))
        .await
        .expect("stdout closes")
        .unwrap();
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("request_id=probe-log-1"))
        .collect();
    assert_eq!(lines.len(), 1, "one line per request: {out}");
    let line = lines[0];
    for part in [
        "INFO",
        "method=GET",
        "path=/health",
        "status=200",
        "duration_ms=",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    let not_found: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("path=/no/such/path"))
        .collect();
    assert_eq!(not_found.len(), 1, "{out}");
    assert!(not_found[0].contains("status=404"), "{}", not_found[0]);
    assert!(
        !out.contains("forged"),
        "the hostile id was replaced: {out}"
    );
}

/// Two server processes on one PostgreSQL database (TEST_DATABASE_URL), as behind a load
/// balancer: A seeded and migrated first, then B. Skipped without TEST_DATABASE_URL
/// (SQLite is one process by design).
async fn two_on_postgres(
    env: &[(&str, &str)],
) -> Option<(Server, Server, String, crate::helpers::DropDatabase)> {
    let admin_url = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let Some(admin_url) = admin_url else {
        eprintln!("skipped: two instances need PostgreSQL (set TEST_DATABASE_URL)");
        return None;
    };
    let (url, database) = crate::helpers::fresh_postgres(&admin_url).await;
    let a = Server::spawn(&url, true, env, tempfile::tempdir().unwrap()).await;
    let b = Server::spawn(&url, false, env, tempfile::tempdir().unwrap()).await;
    Some((a, b, url, database))
}

async fn login(server: &Server, username: &str, password: &str) -> (u16, Value) {
    let body = json!({ "username": username, "password": password }).to_string();
    let (status, body) = server
        .call(
            "POST",
            "/api/auth/login/",
            &[("Content-Type", "application/json".to_owned())],
            body.into_bytes(),
        )
        .await
        .unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// An event committed through A reaches a subscriber on B (woken by `NOTIFY`, or by the
/// 1 s poll at worst) within a second.
#[tokio::test]
async fn an_event_written_through_one_process_reaches_a_subscriber_on_the_other() {
    use crate::subscriptions::{next_event, open_with, subscribe};
    let Some((a, b, _url, _database)) = two_on_postgres(&[]).await else {
        return;
    };
    let token = login(&a, "manager", "manager12345").await.1["access"]
        .as_str()
        .expect("logged in")
        .to_owned();
    let created = a
        .json(
            "/graphql",
            Some(&token),
            json!({ "query": "mutation { createDefect(input: { projectId: \"1\", title: \"Seen from B\", priority: LOW }) { id } }" }),
        )
        .await;
    let defect = created["data"]["createDefect"]["id"].clone();
    assert!(defect.is_string(), "{created}");
    let mut ws = open_with(b.addr.parse().unwrap(), &token).await;
    subscribe(&mut ws, "1", json!({ "d": defect })).await;
    for body in ["first", "second", "third"] {
        let t = Instant::now();
        let res = a
            .json(
                "/graphql",
                Some(&token),
                json!({ "query": "mutation($id: ID!, $b: String!) { addComment(defectId: $id, body: $b) { id } }", "variables": { "id": defect, "b": body } }),
            )
            .await;
        assert!(res["data"]["addComment"]["id"].is_string(), "{res}");
        let e = next_event(&mut ws, Duration::from_secs(1))
            .await
            .unwrap_or_else(|| panic!("{body}: nothing on B within 1 s"));
        eprintln!("A -> B: {body} in {:?}", t.elapsed());
        assert_eq!(e["kind"], "COMMENTED");
        assert_eq!(e["comment"]["body"], body);
    }
}

/// The login budget is in the database: failures spread over A and B count once.
/// With 3 allowed failures, A, B, A fail normally and the fourth attempt is refused on
/// either process, even with the right password.
#[tokio::test]
async fn login_failures_spread_over_two_processes_hit_one_shared_limit() {
    let Some((a, b, url, _database)) = two_on_postgres(&[("LOGIN_MAX_FAILURES", "3")]).await else {
        return;
    };
    for server in [&a, &b, &a] {
        let (status, body) = login(server, "engineer", "wrong-password").await;
        assert_eq!(status, 401, "{body}");
    }
    for server in [&b, &a] {
        let (status, body) = login(server, "engineer", "engineer12345").await;
        assert_eq!(status, 429, "{body}");
        assert_eq!(body["error"]["code"], "RATE_LIMITED");
    }
    // One shared row counts all three (as `login_security` reads it on one process).
    let db = sea_orm::Database::connect(&url).await.unwrap();
    let row = defect_control::entities::login_attempts::Entity::find_by_id("u:engineer".to_owned())
        .one(&db)
        .await
        .unwrap()
        .expect("the per-user counter");
    assert_eq!(row.attempts, 3);
    db.close().await.ok();
    // Another user is not affected on either process.
    assert_eq!(login(&b, "manager", "manager12345").await.0, 200);
}
