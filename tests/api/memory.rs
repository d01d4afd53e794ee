//! Login storms against the real binary: memory stays bounded and is given back.
//!
//! Needs its own process (RSS is per process), so it spawns `defect-control serve` and
//! reads `/proc/<pid>/status`. Linux only; `#[ignore]`d because it takes ~20 s and
//! measures the whole process: `.ci/run` runs it explicitly and alone.
use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn post_login(addr: &str, n: usize) -> u16 {
    let body = format!(r#"{{"username":"ghost-{n}","password":"not-the-password"}}"#);
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return 0;
    };
    let req = format!(
        "POST /api/auth/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).await.is_err() {
        return 0;
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out)
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
#[ignore = "spawns the server binary and measures its RSS; run alone by .ci/run"]
async fn login_storms_grow_memory_boundedly_and_give_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    // DEFECT_CONTROL_BIN measures another build (e.g. the release binary).
    let binary = std::env::var("DEFECT_CONTROL_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_defect-control").to_owned());
    let child = Command::new(binary)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display()),
        )
        .env("STORAGE_URL", "memory://")
        .env("BIND_ADDR", &addr)
        // Let every attempt reach the hasher: the throttle is not what is measured.
        .env("LOGIN_MAX_FAILURES_PER_ADDRESS", "1000000")
        .env("LOGIN_MAX_FAILURES_PER_USER", "1000000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn defect-control");
    let pid = child.id();
    let _server = Server(child);
    let started = Instant::now();
    loop {
        if let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await {
            let _ = s
                .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await;
            let mut out = String::new();
            let _ = s.read_to_string(&mut out).await;
            if out.starts_with("HTTP/1.1 200") {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_kib(pid);
    let mut peak = idle;
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for round in 0..3 {
        let storm = tokio::spawn({
            let addr = addr.clone();
            async move {
                let all = (0..200).map(|i| post_login(&addr, round * 1000 + i));
                futures_util::future::join_all(all).await
            }
        });
        while !storm.is_finished() {
            peak = peak.max(rss_kib(pid));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for s in storm.await.unwrap() {
            *statuses.entry(s).or_default() += 1;
        }
    }
    let after_storm = rss_kib(pid);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut settled = after_storm;
    while settled >= 2 * idle && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        settled = rss_kib(pid);
    }
    eprintln!(
        "idle {idle} KiB, peak {peak} KiB, right after {after_storm} KiB, settled {settled} KiB, statuses {statuses:?}"
    );
    assert!(
        statuses.get(&401).copied().unwrap_or(0) > 0,
        "some logins were verified: {statuses:?}"
    );
    assert!(
        statuses.keys().all(|s| [401, 503].contains(s)),
        "only 401 and 503: {statuses:?}"
    );
    assert!(
        peak - idle < 300 * 1024,
        "grew by {} MiB",
        (peak - idle) / 1024
    );
    assert!(
        settled < 2 * idle,
        "still {settled} KiB after 60 s (idle {idle} KiB)"
    );
}
