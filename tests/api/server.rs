use std::net::SocketAddr;

use axum::http::StatusCode;
use defect_control::entities::enums::Role;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{PASSWORD, apps};

#[tokio::test]
async fn health_and_ready_answer_and_ready_fails_without_a_database() {
    for app in apps().await {
        let res = app.get("/health", None).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.body, json!({ "status": "ok" }));
        assert_eq!(app.get("/ready", None).await.status, StatusCode::OK);
        let res = app.get("/no/such/path", None).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(res.body["error"]["code"], "NOT_FOUND");
        assert!(res.headers.contains_key("x-request-id"));
        app.db().clone().close().await.expect("close");
        let res = app.get("/ready", None).await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.headers.contains_key("retry-after"));
        assert_eq!(app.get("/health", None).await.status, StatusCode::OK);
    }
}

async fn raw_http(addr: SocketAddr, request: String) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

/// Over a real socket: login with the REST shim, then `me` with the token.
#[tokio::test]
async fn login_then_me_over_a_real_socket() {
    for app in apps().await {
        let user = app.actor(Role::Manager).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = app.router.clone();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        });
        let body = json!({ "username": user.username, "password": PASSWORD }).to_string();
        let res = raw_http(
            addr,
            format!("POST /api/auth/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()),
        )
        .await;
        assert!(res.starts_with("HTTP/1.1 200"), "{res}");
        let json_start = res.find("\r\n\r\n").expect("headers end") + 4;
        let tokens: serde_json::Value = serde_json::from_str(&res[json_start..]).expect("json");
        let access = tokens["access"].as_str().expect("access");
        let q = json!({ "query": "{ me { username role } }" }).to_string();
        let res = raw_http(
            addr,
            format!("POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {access}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{q}", q.len()),
        )
        .await;
        assert!(
            res.contains(&format!("\"username\":\"{}\"", user.username)),
            "{res}"
        );
        server.abort();
    }
}

/// `/ready` is anonymous and its probe writes (SQLite's write lock for a rolled-back
/// write, a file in the storage directory): probes run one at a time and callers that
/// arrive while one runs share the next, so a burst of 40 runs a few probes, not one per
/// request (40 without); the next request after the burst probes anew.
#[tokio::test]
async fn a_burst_of_ready_requests_shares_its_probes() {
    for app in apps().await {
        let probes = || app.state.ready.runs();
        assert_eq!(app.get("/ready", None).await.status, StatusCode::OK);
        assert_eq!(probes(), 1);
        let burst = futures_util::future::join_all((0..40).map(|_| app.get("/ready", None))).await;
        assert!(burst.iter().all(|r| r.status == StatusCode::OK));
        let spent = probes() - 1;
        assert!(
            (1..=10).contains(&spent),
            "[{}] 40 requests ran {spent} probes",
            app.backend
        );
        let before = probes();
        assert_eq!(app.get("/ready", None).await.status, StatusCode::OK);
        assert_eq!(probes(), before + 1, "a later request probes anew");
    }
}
