//! The transport under abuse: slow headers, idle sockets, a connection flood, wrong
//! methods and oversize bodies, hostile request ids, and a mutation past the timeout.
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use defect_control::{
    config::Config,
    entities::enums::{Priority, Role},
};
use sea_orm::{ConnectionTrait, DatabaseBackend};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    builders::DefectBuilder,
    helpers::{TestApp, apps, apps_with},
};

async fn start(app: &TestApp) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(defect_control::server::serve(
        listener,
        app.state.clone(),
        async move {
            rx.await.ok();
        },
        Duration::from_secs(1),
    ));
    (addr, tx)
}

/// Reads one response (head and a `Content-Length` body) off a keep-alive connection.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("a response within 5 s")
            .unwrap();
        assert_eq!(
            n,
            1,
            "closed mid-response: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await.unwrap();
    head + &String::from_utf8_lossy(&body)
}

async fn health(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    read_response(stream).await
}

/// Waits for the server to close `stream`; returns how long that took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut sink = [0u8; 256];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut sink)).await {
            Err(_) => panic!("still open after {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {} // a 408 or similar before the close is fine
        }
    }
}

fn short_timeouts(c: &mut Config) {
    c.header_read_timeout = Duration::from_secs(1);
}

#[tokio::test]
async fn a_slow_header_client_is_cut_off_after_the_header_timeout() {
    let app = apps_with(short_timeouts).await.remove(0);
    let (addr, _stop) = start(&app).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    // Slowloris: a head that trickles in and never ends.
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let writer = async {
        for i in 0..20 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if slow
                .write_all(format!("X-Pad-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
    };
    let started = Instant::now();
    writer.await;
    let took = started.elapsed() + closed_within(&mut slow, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
    // Meanwhile a well-behaved client is served.
    let mut ok = TcpStream::connect(addr).await.unwrap();
    assert!(health(&mut ok).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn idle_sockets_are_closed() {
    let app = apps_with(short_timeouts).await.remove(0);
    let (addr, _stop) = start(&app).await;
    // One that never sends a byte, and one that goes quiet after a request.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut kept = TcpStream::connect(addr).await.unwrap();
    assert!(health(&mut kept).await.starts_with("HTTP/1.1 200"));
    let a = closed_within(&mut silent, Duration::from_secs(4)).await;
    let b = closed_within(&mut kept, Duration::from_secs(4)).await;
    assert!(
        a >= Duration::from_millis(500),
        "not before the timeout: {a:?}"
    );
    assert!(b < Duration::from_secs(4), "{b:?}");
}

#[tokio::test]
async fn connections_past_the_cap_are_refused_while_open_ones_keep_working() {
    let app = apps_with(|c| c.max_connections = 3).await.remove(0);
    let (addr, _stop) = start(&app).await;
    // Three connections, each proven accepted (it answered), hold the three permits.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert!(health(&mut s).await.starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    // The fourth and fifth are answered 503 and closed, without sending anything.
    for _ in 0..2 {
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(5), extra.read_to_string(&mut out))
            .await
            .expect("closed at once")
            .unwrap();
        assert!(out.starts_with("HTTP/1.1 503"), "{out}");
        assert!(out.contains("\"SERVICE_UNAVAILABLE\""), "{out}");
    }
    // The connections already open keep being served.
    for s in &mut held {
        assert!(health(s).await.starts_with("HTTP/1.1 200"));
    }
    // Closing one frees its place for a newcomer.
    drop(held.pop());
    let mut served = false;
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut out = vec![0u8; 12];
        if s.read_exact(&mut out).await.is_ok() && out.starts_with(b"HTTP/1.1 200") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "a place freed by a closed connection is reused");
}

/// An anonymous client re-opening idle connections (nothing sent) from one address
/// holds at most `MAX_CONNECTIONS_PER_ADDRESS` of them: its next ones are answered 503
/// at once, and another address is served while it tries.
#[tokio::test]
async fn idle_connections_from_one_address_cannot_take_every_place() {
    let app = apps_with(|c| {
        c.max_connections = 8;
        c.max_connections_per_address = 3;
        c.ws_max_per_address = 2;
    })
    .await
    .remove(0);
    let (addr, _stop) = start(&app).await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    for _ in 0..10 {
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(5), extra.read_to_string(&mut out))
            .await
            .expect("closed at once")
            .unwrap();
        assert!(out.starts_with("HTTP/1.1 503"), "{out}");
        assert!(out.contains("from this address"), "{out}");
    }
    for _ in 0..5 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(([127, 0, 0, 2], 0).into()).unwrap();
        let mut other = socket.connect(addr).await.unwrap();
        assert!(health(&mut other).await.starts_with("HTTP/1.1 200"));
    }
    // A place given back is a place again.
    drop(idle.pop());
    let mut served = false;
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut out = vec![0u8; 12];
        if s.read_exact(&mut out).await.is_ok() && out.starts_with(b"HTTP/1.1 200") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served);
}

#[tokio::test]
async fn wrong_methods_and_rejections_answer_coded_json() {
    for app in apps().await {
        let send = |method: Method, path: &str, ctype: &str, body: String| {
            Request::builder()
                .method(method)
                .uri(path)
                .header(header::CONTENT_TYPE, ctype)
                .body(Body::from(body))
                .unwrap()
        };
        let res = app
            .request(send(
                Method::PUT,
                "/api/auth/login/",
                "application/json",
                "{}".into(),
            ))
            .await;
        assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            res.body["error"]["code"], "BAD_USER_INPUT",
            "{:?}",
            res.body
        );
        assert_eq!(res.headers[header::ALLOW], "POST");

        let res = app
            .request(send(
                Method::DELETE,
                "/graphql",
                "application/json",
                "{}".into(),
            ))
            .await;
        assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            res.body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "GraphQL-shaped: {:?}",
            res.body
        );

        let res = app
            .request(send(
                Method::GET,
                "/api/auth/refresh/",
                "text/plain",
                String::new(),
            ))
            .await;
        assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(res.body["error"]["code"].is_string(), "{:?}", res.body);

        // A 2 MB login body: 413, not a parse error.
        let huge = json!({ "username": "x".repeat(2 << 20), "password": "y" }).to_string();
        let res = app
            .request(send(
                Method::POST,
                "/api/auth/login/",
                "application/json",
                huge,
            ))
            .await;
        assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(res.body["error"]["code"], "PAYLOAD_TOO_LARGE");

        let res = app
            .request(send(
                Method::POST,
                "/api/auth/login/",
                "application/json",
                "{\"user".into(),
            ))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(res.body["error"]["code"], "BAD_USER_INPUT");
        for res in [
            app.get("/api/attachments/1/file", None).await,
            app.get("/api/attachments/x/thumbnail", None).await,
            app.get("/api/reports/export/?status=nope", None).await,
        ] {
            assert!(res.status.is_client_error());
            assert!(res.body["error"]["code"].is_string(), "{:?}", res.body);
        }
    }
}

#[tokio::test]
async fn request_ids_are_kept_only_when_they_are_short_safe_tokens() {
    let app = apps().await.remove(0);
    let echo = |id: &'static [u8]| {
        let app = &app;
        async move {
            let req = Request::builder()
                .uri("/health")
                .header("x-request-id", header::HeaderValue::from_bytes(id).unwrap())
                .body(Body::empty())
                .unwrap();
            let res = app.request(req).await;
            res.headers["x-request-id"].as_bytes().to_vec()
        }
    };
    assert_eq!(echo(b"req-42.retry_1").await, b"req-42.retry_1");
    for hostile in [
        &b"x\" level=ERROR msg=\"forged"[..],
        b"a\tb",
        b"a b",
        &[b'a'; 65],
        b"caf\xc3\xa9",
    ] {
        let got = echo(hostile).await;
        assert_ne!(got, hostile, "replaced");
        let got = String::from_utf8(got).unwrap();
        assert_eq!(got.len(), 36, "a fresh UUID: {got}");
    }
}

/// A mutation that is still running when the request timeout passes finishes and
/// reports its result: it must not answer 503 over committed work. The insert is held
/// back by a lock taken on another connection until after the deadline.
#[tokio::test]
async fn a_mutation_past_the_timeout_reports_its_commit() {
    for app in apps_with(|c| c.request_timeout = Duration::from_secs(2)).await {
        let manager = app.actor(Role::Manager).await;
        let project = app.project(&manager, "Tower").await;
        let defect = DefectBuilder::new(project.id, &manager, &manager)
            .title("Crack")
            .priority(Priority::Low)
            .create(&app)
            .await
            .id
            .to_string();
        let before = app.count("comments").await;

        // A second connection to the same database holds the write lock for 3.5 s.
        let url = app.state.config.database_url.clone();
        let locker = defect_control::db::connect(&url, None).await.unwrap();
        let backend = locker.get_database_backend();
        let txn = sea_orm::TransactionTrait::begin(&locker).await.unwrap();
        if backend == DatabaseBackend::Postgres {
            txn.execute_unprepared("LOCK TABLE comments IN EXCLUSIVE MODE")
                .await
                .unwrap();
        } else {
            // SQLite: any write takes the database's one write lock.
            txn.execute_unprepared(&format!(
                "UPDATE defects SET title = title WHERE id = {defect}"
            ))
            .await
            .unwrap();
        }
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(3500)).await;
            txn.commit().await.unwrap();
        });

        let started = Instant::now();
        let body = app
            .gql(
                Some(&manager.token),
                r#"
                mutation($d: ID!) {
                  addComment(defectId: $d, body: "after the lock") { id body }
                }
                "#,
                json!({ "d": defect }),
            )
            .await;
        let took = started.elapsed();
        release.await.unwrap();
        assert!(
            took > Duration::from_secs(2),
            "[{}] it did run past the timeout: {took:?}",
            app.backend
        );
        assert_eq!(
            body["data"]["addComment"]["body"], "after the lock",
            "[{}] the committed comment is reported, not a 503: {body}",
            app.backend
        );
        assert_eq!(app.count("comments").await, before + 1, "[{}]", app.backend);
        locker.close().await.ok();
    }
}

/// The other half of the rule: a query is still cut off at the deadline.
#[tokio::test]
async fn a_query_past_the_timeout_still_answers_503() {
    for app in apps_with(|c| c.request_timeout = Duration::from_secs(2)).await {
        if app.db().get_database_backend() != DatabaseBackend::Postgres {
            continue; // SQLite readers are not blocked by a writer (WAL)
        }
        let manager = app.actor(Role::Manager).await;
        let url = app.state.config.database_url.clone();
        let locker = defect_control::db::connect(&url, None).await.unwrap();
        let txn = sea_orm::TransactionTrait::begin(&locker).await.unwrap();
        txn.execute_unprepared("LOCK TABLE projects IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        let res = app
            .post_json(
                "/graphql",
                Some(&manager.token),
                json!({ "query": "{ projects { totalCount } }" }),
            )
            .await;
        txn.rollback().await.unwrap();
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers[header::RETRY_AFTER], "1");
        assert_eq!(
            res.body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
            "{:?}",
            res.body
        );
        locker.close().await.ok();
    }
}
