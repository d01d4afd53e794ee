//! `bench notify`: notifications under load (issue 22). Two server processes on one
//! PostgreSQL database, N subscriber sockets on `Subscription.notifications` (one user
//! each, split over both instances), comments at a fixed rate through both instances on
//! defects watched by W of the subscribed users each. Checks that every expected
//! notification arrives exactly once, and measures commit → receipt: from the
//! comment's journal event (`event.at`, taken in the writing transaction just before
//! its commit; same machine, same clock) to the socket, so the latency includes the
//! engine's pass (claim, derive, insert), the `NOTIFY`, the inbox reader and the socket.
use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::{
    load::{self, Target, graphql},
    subscriptions::{login, pct, start},
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub struct Spec {
    pub subscribers: usize,
    pub rate: u32,
    pub seconds: u64,
    /// Watchers per commented defect (all of them subscribed).
    pub watchers: usize,
    /// Defects commented on, in turn.
    pub defects: usize,
}

const LIVE: &str = "subscription { notifications { id kind event { at } } }";
const COMMENT: &str =
    "mutation($id: ID!, $b: String!) { addComment(defectId: $id, body: $b) { id } }";

#[derive(Default)]
struct Received {
    latencies_ms: Vec<f64>,
    ids: Vec<u64>,
}

async fn subscriber(
    url: String,
    token: String,
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
    let sub = json!({ "id": "1", "type": "subscribe", "payload": { "query": LIVE } });
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
                let n = &v["payload"]["data"]["notifications"];
                // The deadline clock's kinds (a generated dataset has overdue defects, so
                // the servers' first clock pass sends OVERDUE rows): not this bench's
                // comments, and without an event to time them by.
                if matches!(
                    n["kind"].as_str(),
                    Some("DUE_SOON" | "OVERDUE" | "ESCALATED")
                ) {
                    continue;
                }
                let (Some(id), Some(at)) = (n["id"].as_str(), n["event"]["at"].as_str()) else {
                    return Err(format!("not a notification: {t}").into());
                };
                if measuring.load(Ordering::Relaxed) {
                    let at = chrono::DateTime::parse_from_rfc3339(at)?;
                    let us = (received - at.with_timezone(&chrono::Utc)).num_microseconds();
                    out.latencies_ms
                        .push(us.unwrap_or(i64::MAX) as f64 / 1000.0);
                    out.ids.push(id.parse()?);
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

pub async fn run(
    database_url: &str,
    server: &str,
    binds: [&str; 2],
    spec: Spec,
) -> Result<(), BoxError> {
    // The audience: the first N users of `bench generate` (engineerN, managerN,
    // observerN) made members of project 1, and W of them watching each target defect.
    let db = sea_orm::Database::connect(database_url).await?;
    let users: Vec<(i32, String)> = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            format!(
                "SELECT id, username FROM users WHERE is_active AND role <> 'ADMIN' ORDER BY id LIMIT {}",
                spec.subscribers
            ),
        ))
        .await?
        .into_iter()
        .map(|r| Ok((r.try_get("", "id")?, r.try_get("", "username")?)))
        .collect::<Result<_, sea_orm::DbErr>>()?;
    if users.len() < spec.subscribers {
        return Err(format!(
            "{} users, {} subscribers wanted: run `bench generate --users {}`",
            users.len(),
            spec.subscribers,
            spec.subscribers + 10
        )
        .into());
    }
    let targets: Vec<i32> = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            format!(
                "SELECT id FROM defects WHERE project_id = 1 AND deleted_at IS NULL \
                 AND status IN (0, 1, 2) ORDER BY id LIMIT {}",
                spec.defects
            ),
        ))
        .await?
        .into_iter()
        .map(|r| r.try_get("", "id"))
        .collect::<Result<_, _>>()?;
    let ids: Vec<String> = users.iter().map(|(id, _)| id.to_string()).collect();
    db.execute_unprepared(&format!(
        "INSERT INTO project_members (project_id, user_id, created_at) \
         SELECT 1, u, now() FROM unnest(ARRAY[{}]) u ON CONFLICT DO NOTHING; \
         DELETE FROM defect_watchers; DELETE FROM notification_settings",
        ids.join(",")
    ))
    .await?;
    let mut watchers = Vec::new();
    for (k, d) in targets.iter().enumerate() {
        for j in 0..spec.watchers {
            let (u, _) = users[(k * 7 + j) % users.len()];
            watchers.push(format!("({d}, {u}, true, now())"));
        }
    }
    for chunk in watchers.chunks(5000) {
        db.execute_unprepared(&format!(
            "INSERT INTO defect_watchers (defect_id, user_id, watching, created_at) VALUES {} ON CONFLICT DO NOTHING",
            chunk.join(",")
        ))
        .await?;
    }
    println!(
        "audience: {} subscribed users, {} defects watched by {} of them each",
        users.len(),
        targets.len(),
        spec.watchers
    );

    let a = start(server, database_url, binds[0]).await?;
    let b = start(server, database_url, binds[1]).await?;
    let instances = [&a, &b];
    let client = load::client(64);
    let ready = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    // Cancelled once for all: a `Notify` would miss a socket busy with a message then.
    let stop = tokio_util::sync::CancellationToken::new();
    let mut sockets = Vec::new();
    let logins = Instant::now();
    for (s, (_, name)) in users.iter().enumerate() {
        if s % 100 == 0 {
            eprintln!(
                "  {s} subscribers ({:.0} s)",
                logins.elapsed().as_secs_f64()
            );
        }
        let token = login(&client, &a.base, name).await?;
        sockets.push(tokio::spawn(subscriber(
            instances[s % 2].ws.clone(),
            token,
            ready.clone(),
            measuring.clone(),
            stop.clone(),
        )));
        while ready.load(Ordering::SeqCst) + 50 <= s as u64 {
            if let Some(done) = sockets.iter().position(|s| s.is_finished()) {
                let r = sockets.remove(done).await?;
                return Err(format!("a subscriber ended early: {:?}", r.err()).into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let opened = Instant::now();
    while ready.load(Ordering::SeqCst) < users.len() as u64 {
        if opened.elapsed() > Duration::from_secs(60) {
            return Err("subscribers not ready after 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let writers = [
        Arc::new(Target {
            base: a.base.clone(),
            token: login(&client, &a.base, "admin1").await?,
        }),
        Arc::new(Target {
            base: b.base.clone(),
            token: login(&client, &b.base, "admin1").await?,
        }),
    ];
    let cpu_before: Vec<f64> = instances
        .iter()
        .map(|i| load::cpu_seconds(&i.pid.to_string()).unwrap_or(f64::NAN))
        .collect();
    measuring.store(true, Ordering::SeqCst);
    let errors = Arc::new(AtomicU64::new(0));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(spec.rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let total = u64::from(spec.rate) * spec.seconds;
    let started = Instant::now();
    let mut writes = Vec::with_capacity(total as usize);
    for n in 0..total {
        tick.tick().await;
        let defect = targets[n as usize % targets.len()].to_string();
        let (client, target, errors) = (
            client.clone(),
            writers[n as usize % 2].clone(),
            errors.clone(),
        );
        writes.push(tokio::spawn(async move {
            let (o, v) = graphql(
                &client,
                &target,
                COMMENT,
                json!({ "id": defect, "b": format!("bench notify {n}") }),
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
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu_after: Vec<f64> = instances
        .iter()
        .map(|i| load::cpu_seconds(&i.pid.to_string()).unwrap_or(f64::NAN))
        .collect();
    stop.cancel();
    let mut latencies = Vec::new();
    let mut delivered = 0usize;
    let mut duplicates = 0usize;
    for s in sockets {
        let r = s.await??;
        let unique: HashSet<u64> = r.ids.iter().copied().collect();
        duplicates += r.ids.len() - unique.len();
        delivered += r.ids.len();
        latencies.extend(r.latencies_ms);
    }
    latencies.sort_by(f64::total_cmp);
    let expected = total as usize * spec.watchers;
    println!(
        "writes: {total} comments in {:.1} s ({:.0}/s, alternating A/B), {} failed",
        write_time.as_secs_f64(),
        total as f64 / write_time.as_secs_f64(),
        errors.load(Ordering::Relaxed)
    );
    println!("delivered: {delivered} notifications, expected {expected}, duplicates {duplicates}");
    println!(
        "commit -> receipt latency: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(&latencies, 50.0),
        pct(&latencies, 90.0),
        pct(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    for (k, i) in instances.iter().enumerate() {
        println!(
            "instance {}: {:.1} CPU-s during the run, RSS {:.1} MiB (peak {:.1} MiB)",
            ["A", "B"][k],
            cpu_after[k] - cpu_before[k],
            load::rss_mib(i.pid).unwrap_or(f64::NAN),
            load::peak_rss_mib(i.pid).unwrap_or(f64::NAN)
        );
    }
    let (mut a, mut b) = (a, b);
    a.child.kill().await.ok();
    b.child.kill().await.ok();
    if delivered != expected || duplicates > 0 {
        return Err("not every notification was delivered exactly once".into());
    }
    Ok(())
}
