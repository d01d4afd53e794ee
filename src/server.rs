//! Running the HTTP server: connection limits and timeouts, graceful and bounded
//! shutdown, and the container health probe.
//!
//! `axum::serve` has no header-read timeout, idle timeout or connection cap, so the
//! accept loop is ours: hyper's HTTP/1 connection with `header_read_timeout` (which, in
//! the hyper we use (1.12, hyperium/hyper#3828), also runs while a keep-alive connection
//! waits for its next request, so it is the idle timeout too: `idle_sockets_are_closed`
//! checks it), a semaphore permit per connection, and a graceful shutdown that lets
//! in-flight requests finish.
use crate::i18n::{Lang, Msg};
use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::{body::Body, extract::ConnectInfo};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};
use tower::ServiceExt;

use crate::{
    caps::PerKey,
    error::{AppError, RestErrorBody},
    http::ws::caps::ConnectionSlot,
    state::AppState,
};

/// Serves until `shutdown` resolves, then stops accepting and gives in-flight requests
/// `grace` to finish before returning anyway.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let header_timeout = state.config.header_read_timeout;
    let permits = Arc::new(Semaphore::new(state.config.max_connections));
    let max = state.config.max_connections;
    let per_address = PerKey::new(state.config.max_connections_per_address);
    let proxies = state.config.trusted_proxies.clone();
    let closing = state.shutdown.clone();
    let router = crate::app(state);
    // hyper-util's `GracefulShutdown` cannot watch a connection served with upgrades,
    // so: a signal to every connection task (and `AppState::shutdown` to every
    // WebSocket), and the connection permits: each connection holds one until it ends,
    // an upgraded WebSocket until it closes, so having them all back means all are done.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    warn_if_over_descriptor_limit(max);
    tokio::pin!(shutdown);
    let mut saturated = false;
    let mut last_accept_error: Option<std::time::Instant> = None;
    loop {
        let (stream, remote) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, or the peer left before we accepted: not
                    // fatal; pause so a full descriptor table does not spin the loop, and
                    // say so once every few seconds rather than ten times a second.
                    if last_accept_error.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
                        tracing::warn!(error = %e, "accept failed (out of file descriptors? lower MAX_CONNECTIONS or raise ulimit -n)");
                        last_accept_error = Some(std::time::Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Before the cap in all, so one address cannot take every place (idle TCP
        // connections that never send a request included). Behind a proxy every client
        // arrives from it: the proxy limits its clients, not us.
        let peer = remote.ip().to_canonical();
        let address = if proxies.iter().any(|net| net.contains(&peer)) {
            None
        } else {
            let Some(place) = per_address.take(peer) else {
                refuse(
                    stream,
                    AppError::Unavailable(Msg::TooManyConnectionsFromAddress),
                );
                continue;
            };
            Some(place)
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            if !saturated {
                tracing::warn!(
                    max_connections = max,
                    "connection limit reached (MAX_CONNECTIONS): refusing new connections until some close"
                );
                saturated = true;
            }
            refuse(stream, AppError::Unavailable(Msg::TooManyConnections));
            continue;
        };
        if saturated {
            tracing::info!("below the connection limit again: accepting connections");
            saturated = false;
        }
        let router = router.clone();
        let permit = ConnectionSlot::new(permit, address);
        let slot = permit.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                // The client address, as `into_make_service_with_connect_info` would give it.
                req.extensions_mut().insert(ConnectInfo(remote));
                req.extensions_mut().insert(slot.clone());
                router.clone().oneshot(req.map(Body::new))
            });
        let conn = http
            .serve_connection(TokioIo::new(stream), service)
            // WebSockets (`/graphql/ws`) take the connection over.
            .with_upgrades();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, %remote, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: no new connections, finishing in-flight requests");
    let _ = stop_tx.send(true);
    // Open WebSockets get a close frame (1001 going away) rather than a cut connection.
    closing.cancel();
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    tokio::select! {
        _ = permits.acquire_many(all) => {}
        _ = tokio::time::sleep(grace) => {
            tracing::warn!(?grace, "in-flight requests did not finish in time; closing them");
        }
    }
    Ok(())
}

/// Each connection is a file descriptor; with the cap above the process's limit, `accept`
/// fails before the cap is reached (Linux only: elsewhere there is no `/proc`).
fn warn_if_over_descriptor_limit(max_connections: usize) {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else {
        return;
    };
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<usize>().ok());
    // Room for the database pool, storage and log files.
    if let Some(soft) = soft
        && max_connections + 64 > soft
    {
        tracing::warn!(
            max_connections,
            open_files_limit = soft,
            "MAX_CONNECTIONS is close to or above the open-files limit (ulimit -n); accept will fail first"
        );
    }
}

/// Best effort, without waiting: a fresh socket's send buffer takes these few bytes at
/// once, and a client that is not reading loses nothing it needed.
/// It is a coded 503, so a client (or a load balancer) knows to retry rather than seeing
/// a bare reset.
fn refuse(stream: TcpStream, err: AppError) {
    let message = err.message(waiting_language(&stream));
    // Serialising two short strings cannot fail; an empty body would still be a 503.
    let body = serde_json::to_string(&RestErrorBody::new(err.code(), &message)).unwrap_or_default();
    let response = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        err.status().as_str(),
        err.status().canonical_reason().unwrap_or_default(),
        body.len()
    );
    let _ = stream.try_write(response.as_bytes());
}

/// The language of a refused connection: its request is not served, but if its head
/// has already arrived (a client writes it right after connecting) its
/// `Accept-Language` is read without waiting; English otherwise. Reading what arrived
/// also lets the close be a clean one.
fn waiting_language(stream: &TcpStream) -> Lang {
    let mut head = [0u8; 4096];
    let Ok(n) = stream.try_read(&mut head) else {
        return Lang::En;
    };
    let value = head[..n]
        .split(|b| *b == b'\n')
        .take_while(|line| !line.is_empty() && *line != b"\r")
        .find_map(|line| {
            let (name, value) = line.split_at(line.iter().position(|b| *b == b':')?);
            name.eq_ignore_ascii_case(b"accept-language")
                .then(|| String::from_utf8_lossy(&value[1..]).trim().to_owned())
        });
    Lang::from_accept_language(value.as_deref())
}

/// SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// `GET /health` on the configured address (loopback when bound to all interfaces):
/// the container image has no curl, so the binary probes itself.
pub async fn healthcheck(bind: SocketAddr) -> Result<(), String> {
    let mut addr = bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            [127, 0, 0, 1].into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .await
            .map_err(|e| e.to_string())?;
        if response.starts_with(b"HTTP/1.1 200") {
            Ok(())
        } else {
            Err(
                String::from_utf8_lossy(response.split(|b| *b == b'\r').next().unwrap_or_default())
                    .into_owned(),
            )
        }
    };
    tokio::time::timeout(Duration::from_secs(3), probe)
        .await
        .map_err(|_| format!("{addr}: no answer within 3 s"))?
}
