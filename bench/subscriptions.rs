//! `bench subscriptions`: live updates under load. Starts two server processes on one
//! PostgreSQL database (as behind a load balancer), opens N subscriber sockets split over
//! both, measures the servers' RSS before and after (idle subscribers), then writes
//! comments at a fixed rate through both instances and measures, for every delivered
//! event, the time from its commit to its receipt.
//!
//! Commit time is the event's `at` (taken in the writing transaction just before its
//! journal insert and commit; same machine, same clock), so the latency includes the
//! commit itself, the `NOTIFY`, the reader's batch, the fan-out and the socket.
use std::{
    collections::HashMap,
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::load::{self, HttpClient, Target, graphql};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub struct Spec {
    pub subscribers: usize,
    /// Writes per second (comments), alternating between the two instances.
    pub rate: u32,
    pub seconds: u64,
    /// Distinct users the subscribers log in as (sockets are spread over them).
    pub users: usize,
    /// Each subscription watches one project (`project`) or everything it may see (`all`).
    pub watch: String,
}

const EVENT: &str =
    "subscription($p: ID) { defectEvents(projectId: $p) { id kind at defectId projectId cursor } }";
const COMMENT: &str =
    "mutation($id: ID!, $b: String!) { addComment(defectId: $id, body: $b) { id } }";

pub(crate) struct Instance {
    pub(crate) child: tokio::process::Child,
    pub(crate) pid: u32,
    pub(crate) base: String,
    pub(crate) ws: String,
}

pub(crate) async fn start(
    server: &str,
    database_url: &str,
    bind: &str,
) -> Result<Instance, BoxError> {
    let child = tokio::process::Command::new(server)
        .arg("serve")
        .envs(load::image_env())
        .env("DATABASE_URL", database_url)
        .env("BIND_ADDR", bind)
        .env("JWT_SECRET", "bench-secret-bench-secret-bench-secret!")
        .env("STORAGE_URL", "memory://")
        .env("RUST_LOG", "warn")
        .env("LOGIN_MAX_FAILURES", "1000")
        .env("MAX_CONNECTIONS", "4000")
        // Every socket comes from 127.0.0.1: lift the per-address caps of issue 19.
        .env("MAX_CONNECTIONS_PER_ADDRESS", "4000")
        .env("WS_MAX_PER_ADDRESS", "3000")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or("server did not start")?;
    let base = format!("http://{bind}");
    let client = load::client(2);
    let started = Instant::now();
    loop {
        let req = hyper::Request::get(format!("{base}/ready")).body(Full::new(Bytes::new()))?;
        if let Ok(res) = client.request(req).await
            && res.status().is_success()
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("{bind} did not become ready in 30 s").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Instance {
        child,
        pid,
        base,
        ws: format!("ws://{bind}/graphql/ws"),
    })
}

pub(crate) async fn login(
    client: &HttpClient,
    base: &str,
    username: &str,
) -> Result<String, BoxError> {
    let req = hyper::Request::post(format!("{base}/api/auth/login/"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            json!({ "username": username, "password": "bench12345" }).to_string(),
        )))?;
    let body = client.request(req).await?.into_body().collect().await?;
    let v: Value = serde_json::from_slice(&body.to_bytes())?;
    Ok(v["access"]
        .as_str()
        .ok_or_else(|| format!("login of {username} failed: was `bench generate` run? {v}"))?
        .to_owned())
}

/// One subscriber socket: what it received during the measured window.
#[derive(Default)]
struct Received {
    latencies_ms: Vec<f64>,
    events: u64,
}

/// Opens the socket and subscribes; then collects events until `stop`.
async fn subscriber(
    url: String,
    token: String,
    project: Option<String>,
    ready: Arc<AtomicU64>,
    measuring: Arc<AtomicBool>,
    stop: tokio_util::sync::CancellationToken,
) -> Result<Received, BoxError> {
    let mut req = url.into_client_request()?;
    req.headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    ws.send(Message::Text(init.to_string().into())).await?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.contains("connection_ack") => {}
        other => return Err(format!("no connection_ack: {other:?}").into()),
    }
    let sub = json!({ "id": "1", "type": "subscribe", "payload": { "query": EVENT, "variables": { "p": project } } });
    ws.send(Message::Text(sub.to_string().into())).await?;
    ready.fetch_add(1, Ordering::SeqCst);
    let mut out = Received::default();
    loop {
        let msg = tokio::select! {
            m = ws.next() => m,
            () = stop.cancelled() => break,
        };
        let Some(Ok(msg)) = msg else {
            return Err("the server closed a subscriber socket".into());
        };
        let Message::Text(t) = msg else { continue };
        let received = chrono::Utc::now();
        let v: Value = serde_json::from_str(&t)?;
        match v["type"].as_str() {
            Some("next") => {
                let at = v["payload"]["data"]["defectEvents"]["at"]
                    .as_str()
                    .ok_or_else(|| format!("not an event: {t}"))?;
                let at = chrono::DateTime::parse_from_rfc3339(at)?;
                if measuring.load(Ordering::Relaxed) {
                    let ms = (received - at.with_timezone(&chrono::Utc)).num_microseconds();
                    out.latencies_ms
                        .push(ms.unwrap_or(i64::MAX) as f64 / 1000.0);
                    out.events += 1;
                }
            }
            Some("ping") => {
                ws.send(Message::Text(json!({ "type": "pong" }).to_string().into()))
                    .await?;
            }
            _ => return Err(format!("unexpected: {t}").into()),
        }
    }
    ws.close(None).await.ok();
    Ok(out)
}

pub(crate) fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p / 100.0) as usize).min(sorted.len() - 1);
    sorted[i]
}

pub async fn run(
    database_url: &str,
    server: &str,
    binds: [&str; 2],
    spec: Spec,
) -> Result<(), BoxError> {
    let a = start(server, database_url, binds[0]).await?;
    let b = start(server, database_url, binds[1]).await?;
    let instances = [&a, &b];
    let client = load::client(64);
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Writers and targets: admin1 comments on open defects of every project.
    let admin = Target {
        base: a.base.clone(),
        token: login(&client, &a.base, "admin1").await?,
    };
    let (_, v) = graphql(
        &client,
        &admin,
        "{ defects(filter: { status: [NEW, IN_PROGRESS, REVIEW] }, first: 100) { nodes { id project { id } } } }",
        json!({}),
    )
    .await;
    let targets: Vec<(String, String)> = v["data"]["defects"]["nodes"]
        .as_array()
        .ok_or_else(|| format!("no defects: {v}"))?
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap_or_default().to_owned(),
                n["project"]["id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    if targets.is_empty() {
        return Err("no open defects to comment on".into());
    }

    // Subscribers: a mix of roles (usernames of `bench generate`: engineerN, managerN,
    // observerN), each watching one of the projects it can see.
    let mut users = Vec::new();
    for i in 2.. {
        if users.len() == spec.users {
            break;
        }
        let name = match i % 20 {
            0 => format!("manager{i}"),
            r if r < 16 => format!("engineer{i}"),
            _ => format!("observer{i}"),
        };
        let token = login(&client, &a.base, &name).await?;
        let t = Target {
            base: a.base.clone(),
            token: token.clone(),
        };
        let (_, v) = graphql(
            &client,
            &t,
            "{ projects(first: 100) { nodes { id } } }",
            json!({}),
        )
        .await;
        let projects: Vec<String> = v["data"]["projects"]["nodes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if projects.is_empty() {
            continue;
        }
        users.push((name, token, projects));
    }

    // Memory per subscriber is the growth while the last 80 % of the sockets open: the
    // first 20 % warm what every socket shares (database connections, the journal
    // reader, allocator arenas) and let the logins' hashing memory go back first.
    let warm_up = (spec.subscribers / 5).max(1);
    let mut rss_before: Vec<f64> = Vec::new();
    let ready = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    // Cancelled once for all: a `Notify` would miss a socket busy with a message then.
    let stop = tokio_util::sync::CancellationToken::new();
    // Subscriptions per project, to know how many deliveries each write should make.
    let mut watching: HashMap<Option<String>, u64> = HashMap::new();
    let mut per_instance = [0usize; 2];
    let mut sockets = Vec::new();
    let mut per_instance_warm = [0usize; 2];
    for s in 0..spec.subscribers {
        if s == warm_up {
            while ready.load(Ordering::SeqCst) < warm_up as u64 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
            rss_before = instances
                .iter()
                .map(|i| load::rss_mib(i.pid).unwrap_or(f64::NAN))
                .collect();
            per_instance_warm = per_instance;
        }
        let (_, token, projects) = &users[s % users.len()];
        let project = match spec.watch.as_str() {
            "all" => None,
            _ => Some(projects[(s / users.len()) % projects.len()].clone()),
        };
        *watching.entry(project.clone()).or_default() += 1;
        let k = s % 2;
        per_instance[k] += 1;
        sockets.push(tokio::spawn(subscriber(
            instances[k].ws.clone(),
            token.clone(),
            project,
            ready.clone(),
            measuring.clone(),
            stop.clone(),
        )));
        // At most 50 handshakes in flight (each is a token check on the server, which
        // closes a socket not initialised within 10 s).
        while ready.load(Ordering::SeqCst) + 50 <= s as u64 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let opened = Instant::now();
    while ready.load(Ordering::SeqCst) < spec.subscribers as u64 {
        if opened.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "only {} of {} subscribers ready after 60 s",
                ready.load(Ordering::SeqCst),
                spec.subscribers
            )
            .into());
        }
        if let Some(done) = sockets.iter().position(|s| s.is_finished()) {
            let r = sockets.remove(done).await?;
            return Err(format!("a subscriber ended early: {:?}", r.err()).into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let every subscription take its starting point, then sample idle memory.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after: Vec<f64> = instances
        .iter()
        .map(|i| load::rss_mib(i.pid).unwrap_or(f64::NAN))
        .collect();
    println!(
        "subscribers: {} ({} on A, {} on B) as {} users, watching {}",
        spec.subscribers,
        per_instance[0],
        per_instance[1],
        users.len(),
        if spec.watch == "all" {
            "everything they can see"
        } else {
            "one project each"
        }
    );
    for k in 0..2 {
        let grown_kib = (rss_after[k] - rss_before[k]) * 1024.0;
        let added = (per_instance[k] - per_instance_warm[k]).max(1) as f64;
        println!(
            "instance {}: RSS {:.1} MiB with {} warm-up subscribers, {:.1} MiB with {} idle subscribers: {:.0} KiB per 100 subscribers ({:.1} KiB each)",
            ["A", "B"][k],
            rss_before[k],
            per_instance_warm[k],
            rss_after[k],
            per_instance[k],
            grown_kib / added * 100.0,
            grown_kib / added
        );
    }

    // Writes at a fixed rate, alternating between the instances.
    let writers = [
        Arc::new(admin),
        Arc::new(Target {
            base: b.base.clone(),
            token: login(&client, &b.base, "admin1").await?,
        }),
    ];
    let errors = Arc::new(AtomicU64::new(0));
    let mut expected = 0u64;
    measuring.store(true, Ordering::SeqCst);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(spec.rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let total = spec.rate as u64 * spec.seconds;
    let started = Instant::now();
    let mut writes = Vec::with_capacity(total as usize);
    for n in 0..total {
        tick.tick().await;
        let (defect, project) = &targets[n as usize % targets.len()];
        expected += watching.get(&Some(project.clone())).copied().unwrap_or(0);
        let (client, target, errors) = (
            client.clone(),
            writers[n as usize % 2].clone(),
            errors.clone(),
        );
        let defect = defect.clone();
        writes.push(tokio::spawn(async move {
            let (o, v) = graphql(
                &client,
                &target,
                COMMENT,
                json!({ "id": defect, "b": format!("bench live {n}") }),
            )
            .await;
            if o != load::Outcome::Ok {
                errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("write failed: {v}");
            }
        }));
    }
    for w in writes {
        w.await?;
    }
    let write_time = started.elapsed();
    // Let the last events arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    let mut latencies = Vec::new();
    let mut delivered = 0u64;
    for s in sockets {
        let r = s.await??;
        delivered += r.events;
        latencies.extend(r.latencies_ms);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "writes: {total} comments in {:.1} s ({:.0}/s, alternating A/B), {} failed",
        write_time.as_secs_f64(),
        total as f64 / write_time.as_secs_f64(),
        errors.load(Ordering::Relaxed)
    );
    println!(
        "delivered: {delivered} events ({:.0}/s over the write window){}",
        delivered as f64 / write_time.as_secs_f64(),
        if spec.watch == "all" {
            String::new()
        } else {
            format!(", expected {expected}")
        }
    );
    println!(
        "commit -> receipt latency: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(&latencies, 50.0),
        pct(&latencies, 90.0),
        pct(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    for (k, i) in instances.iter().enumerate() {
        println!(
            "instance {}: RSS after the run {:.1} MiB, peak {:.1} MiB",
            ["A", "B"][k],
            load::rss_mib(i.pid).unwrap_or(f64::NAN),
            load::peak_rss_mib(i.pid).unwrap_or(f64::NAN)
        );
    }
    let (mut a, mut b) = (a, b);
    a.child.kill().await.ok();
    b.child.kill().await.ok();
    Ok(())
}
