//! Operations: graceful shutdown, request and statement timeouts, database restarts.
use std::time::Duration;

use defect_control::entities::enums::Role;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{PASSWORD, apps, apps_with};

async fn start(
    app: &crate::helpers::TestApp,
    grace: Duration,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let state = app.state.clone();
    let server = tokio::spawn(defect_control::server::serve(
        listener,
        state,
        async move {
            rx.await.ok();
        },
        grace,
    ));
    (addr, tx, server)
}

#[tokio::test]
async fn shutdown_finishes_an_in_flight_request_and_refuses_new_ones() {
    for app in apps().await {
        let user = app.actor(Role::Engineer).await;
        let (addr, stop, server) = start(&app, Duration::from_secs(10)).await;
        let body = json!({ "username": user.username, "password": PASSWORD }).to_string();
        let (head, tail) = body.split_at(body.len() / 2);
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST /api/auth/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The signal arrives while the request is half sent.
        stop.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "[{}] no new connections after the signal",
            app.backend
        );
        stream.write_all(tail.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("\"access\""));
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn shutdown_is_bounded_by_the_grace_period() {
    for app in apps().await {
        let (addr, stop, server) = start(&app, Duration::from_millis(300)).await;
        // A client that never finishes its request.
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /api/auth/login/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(()).unwrap();
        let done = tokio::time::timeout(Duration::from_secs(5), server).await;
        assert!(
            done.is_ok(),
            "[{}] the server stopped after the grace period",
            app.backend
        );
    }
}

#[tokio::test]
async fn a_stalled_request_times_out_with_a_code() {
    for app in apps_with(|c| c.request_timeout = Duration::from_secs(2)).await {
        let (addr, _stop, server) = start(&app, Duration::from_secs(1)).await;
        for (path, graphql) in [("/api/auth/login/", false), ("/graphql", true)] {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\nConnection: close\r\n\r\n{{\"a").as_bytes())
                .await
                .unwrap();
            let mut response = String::new();
            tokio::time::timeout(
                Duration::from_secs(10),
                stream.read_to_string(&mut response),
            )
            .await
            .expect("answered")
            .unwrap();
            assert!(response.starts_with("HTTP/1.1 503"), "{response}");
            assert!(
                response.to_lowercase().contains("retry-after") || graphql,
                "{response}"
            );
            assert!(response.contains("SERVICE_UNAVAILABLE"), "{response}");
            if graphql {
                assert!(
                    response.contains("\"errors\""),
                    "GraphQL-shaped: {response}"
                );
            }
        }
        server.abort();
    }
}

#[tokio::test]
async fn postgres_statements_are_cut_off_before_the_request_timeout() {
    for app in apps().await {
        if app.db().get_database_backend() != DatabaseBackend::Postgres {
            continue;
        }
        let row = app
            .db()
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                "SHOW statement_timeout",
            ))
            .await
            .unwrap()
            .unwrap();
        let value: String = row.try_get("", "statement_timeout").unwrap();
        assert_eq!(value, "29s", "set on every pooled connection");
    }
}

/// Stops and starts the local PostgreSQL cluster under a running app. Needs root and the
/// local cluster, so it runs alone from `.ci/run` (`--ignored`), never beside other tests.
#[tokio::test]
#[ignore = "restarts the local PostgreSQL cluster; run alone by .ci/run"]
async fn the_server_survives_a_postgres_restart() {
    let apps: Vec<_> = apps()
        .await
        .into_iter()
        .filter(|a| a.backend == "postgres")
        .collect();
    assert!(!apps.is_empty(), "needs TEST_DATABASE_URL");
    let app = &apps[0];
    let user = app.actor(Role::Manager).await;
    let version = std::fs::read_dir("/etc/postgresql")
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    let version = version.to_str().unwrap().to_owned();
    let ctl = |action: &'static str| {
        let version = version.clone();
        async move {
            let status = tokio::process::Command::new("pg_ctlcluster")
                .args(["--skip-systemctl-redirect", &version, "main", action])
                .status()
                .await
                .expect("pg_ctlcluster");
            assert!(status.success(), "pg_ctlcluster {action}");
        }
    };
    assert_eq!(app.get("/ready", None).await.status, 200);
    ctl("stop").await;
    assert_eq!(app.get("/ready", None).await.status, 503);
    let body = app
        .gql(
            Some(&user.token),
            r"
            {
              me { username }
            }
            ",
            json!({}),
        )
        .await;
    assert!(
        body["errors"][0]["extensions"]["code"].is_string(),
        "coded while down: {body}"
    );
    ctl("start").await;
    let mut ready = false;
    for _ in 0..60 {
        if app.get("/ready", None).await.status == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(ready, "/ready recovers without restarting the server");
    let body = app
        .gql(
            Some(&user.token),
            r"
            {
              me { username }
            }
            ",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["me"]["username"], user.username.as_str());
}
