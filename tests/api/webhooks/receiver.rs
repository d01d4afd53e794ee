//! A webhook receiver for the tests: an HTTP server on 127.0.0.1:0 that records each
//! request (headers and body) and answers as told: a status per request in turn (then
//! 200), a hang, or a 100 MB body.
use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answers the statuses in turn, then 200.
    Statuses(&'static [u16]),
    /// Never answers.
    Hang,
    /// 200 with a body of 100 MB.
    Huge,
}

#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Clone)]
struct Shared {
    mode: Mode,
    got: Arc<Mutex<Vec<Received>>>,
    /// Bytes of the huge body produced so far.
    produced: Arc<AtomicUsize>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Shared,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(mode: Mode) -> Receiver {
        let shared = Shared {
            mode,
            got: Arc::default(),
            produced: Arc::default(),
        };
        let app = Router::new()
            .route("/hook", post(answer))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Receiver {
            addr,
            shared,
            _server: server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn got(&self) -> Vec<Received> {
        self.shared.got.lock().expect("lock").clone()
    }

    /// The `webhook-id` of each request, in order.
    pub fn ids(&self) -> Vec<String> {
        self.got().iter().map(|r| r.header("webhook-id")).collect()
    }

    pub fn produced(&self) -> usize {
        self.shared.produced.load(Ordering::SeqCst)
    }
}

async fn answer(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> (StatusCode, Body) {
    let n = {
        let mut got = s.got.lock().expect("lock");
        got.push(Received { headers, body });
        got.len()
    };
    match s.mode {
        Mode::Statuses(list) => {
            let code = list.get(n - 1).copied().unwrap_or(200);
            (StatusCode::from_u16(code).expect("status"), Body::empty())
        }
        Mode::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(600)).await;
            (StatusCode::OK, Body::empty())
        }
        Mode::Huge => {
            let produced = s.produced.clone();
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let total = 100 * 1024 * 1024 / chunk.len();
            let stream = futures_util::stream::iter((0..total).map(move |_| {
                produced.fetch_add(chunk.len(), Ordering::SeqCst);
                Ok::<_, std::io::Error>(chunk.clone())
            }));
            (StatusCode::OK, Body::from_stream(stream))
        }
    }
}
