//! Benchmarks: `bench generate` fills PostgreSQL with a realistic dataset; `bench run`
//! starts the release server on it and drives the standard scenarios over HTTP;
//! `bench statements` counts SQL statements per request in-process; `bench drift` checks
//! the reports' aggregate against a recomputation. See bench/README.md.
mod clock;
mod field;
mod generate;
mod load;
mod notify;
mod statements;
mod subscriptions;
mod tokens;

use std::{
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Full};
use load::{Outcome, Target, drive, graphql};
use serde_json::json;

#[derive(Parser)]
#[command(about = "defect-control benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fill a PostgreSQL database (replacing its data) with a deterministic dataset.
    Generate {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long, default_value_t = 1_000_000)]
        defects: u64,
        #[arg(long, default_value_t = 200)]
        users: usize,
        #[arg(long, default_value_t = 30)]
        projects: usize,
        #[arg(long, default_value_t = 6)]
        stages: usize,
    },
    /// Start the server binary on the database and run the load scenarios.
    Run {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        /// The server binary (build it with `cargo build --release`).
        #[arg(long, default_value = "target/release/defect-control")]
        server: String,
        #[arg(long, default_value = "127.0.0.1:8099")]
        bind: String,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Comma-separated: list,detail,search,search-count,summary,by-project,by-engineer,inbox,writes,export,copy
        /// (summary-range: the summary bounded by from/to, which scans; `copy`: PostgreSQL's own
        /// `COPY … TO STDOUT` of the export's rows, the floor)
        #[arg(
            long,
            default_value = "list,detail,search,search-count,summary,by-project,by-engineer,writes,export,copy"
        )]
        scenarios: String,
        /// After the scenarios, wait this long and report the server's RSS again (memory
        /// given back after load); 0 skips the wait.
        #[arg(long, default_value_t = 60)]
        settle_seconds: u64,
    },
    /// Live updates: two server instances on one PostgreSQL database, N subscriber
    /// sockets, comments at a fixed rate; commit-to-receipt latency, events/s, RSS per
    /// idle subscriber. Needs a generated dataset (a small one will do).
    Subscriptions {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long, default_value = "target/release/defect-control")]
        server: String,
        #[arg(long, default_value = "127.0.0.1:8101")]
        bind_a: String,
        #[arg(long, default_value = "127.0.0.1:8102")]
        bind_b: String,
        #[arg(long, default_value_t = 500)]
        subscribers: usize,
        /// Comments per second, alternating between the instances.
        #[arg(long, default_value_t = 100)]
        rate: u32,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Distinct users the sockets log in as.
        #[arg(long, default_value_t = 40)]
        users: usize,
        /// `project`: each subscription watches one project; `all`: everything visible.
        #[arg(long, default_value = "project")]
        watch: String,
    },
    /// Notifications live: two instances on one PostgreSQL database, one subscriber
    /// socket per user on `notifications`, comments at a fixed rate on defects watched
    /// by W subscribed users each: exactly-once delivery and commit-to-receipt latency.
    Notify {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long, default_value = "target/release/defect-control")]
        server: String,
        #[arg(long, default_value = "127.0.0.1:8103")]
        bind_a: String,
        #[arg(long, default_value = "127.0.0.1:8104")]
        bind_b: String,
        #[arg(long, default_value_t = 500)]
        subscribers: usize,
        #[arg(long, default_value_t = 100)]
        rate: u32,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 50)]
        watchers: usize,
        #[arg(long, default_value_t = 100)]
        defects: usize,
    },
    /// One pass of the deadline clock (in process) with `due` defects due among all the
    /// waiting ones of a generated dataset (its queue is reset to a steady state first).
    Clock {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long, default_value_t = 1000)]
        due: u64,
    },
    /// Bulk changes and the import (issue 24): a 200-item `bulkChangeStatus` and a
    /// 5,000-row atomic `importDefects` into `project`, timed, with the server's RSS.
    /// Needs a generated dataset; each run cancels 200 more NEW defects.
    Field {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long, default_value = "target/release/defect-control")]
        server: String,
        #[arg(long, default_value = "127.0.0.1:8105")]
        bind: String,
        #[arg(long, default_value = "1")]
        project: String,
    },
    /// Count SQL statements per request for each scenario (in-process, no HTTP load).
    Statements {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
    },
    /// Recompute the reports' aggregate from the defects and list every difference from
    /// the maintained one (exit 1 if any); `--repair` then replaces it with the recomputation.
    Drift {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long)]
        repair: bool,
    },
}

pub const LIST: &str = "query($f: DefectFilter, $n: Int) { defects(filter: $f, first: $n) { totalCount nodes { id title status priority deadline isOverdue project { title } stage { title } performer { username } author { username } commentCount } } }";
/// The list without `totalCount`: what a search box's results page asks first.
pub const SEARCH: &str = "query($f: DefectFilter, $n: Int) { defects(filter: $f, first: $n) { nodes { id title status priority deadline isOverdue project { title } stage { title } performer { username } author { username } commentCount } pageInfo { hasNextPage endCursor } } }";
pub const DETAIL: &str = "query($id: ID!) { defect(id: $id) { id title description status version allowedTransitions project { title } stage { title } performer { username } author { username } comments { body createdAt author { username } } history { fromStatus toStatus changedAt comment changedBy { username } } } }";
pub const SUMMARY: &str = "{ reports { summary { total open overdue avgResolutionHours byStatus { status count } byPriority { priority count } } } }";
pub const BY_PROJECT: &str = "{ reports { byProject { project { title } total open closed cancelled overdue avgResolutionHours } } }";
pub const BY_ENGINEER: &str = "{ reports { byEngineer { engineer { username } assigned open inReview closed overdue avgResolutionHours } } }";
pub const SUMMARY_RANGE: &str = "query($f: ReportFilter) { reports { summary(filter: $f) { total open overdue avgResolutionHours byStatus { status count } byPriority { priority count } } } }";
pub const INBOX: &str = "{ notifications(first: 20) { totalCount unreadCount nodes { id cursor kind text createdAt readAt actor { username } defect { id key title } } pageInfo { hasNextPage endCursor } } }";
pub const SEARCH_TERMS: [&str; 6] = [
    "трещина",
    "fire seal",
    "арматур",
    "leak",
    "протечка",
    "paint",
];

pub fn list_vars(seed: u64) -> serde_json::Value {
    json!({ "n": 50, "f": { "projectId": (1 + seed % 30).to_string(), "status": ["NEW", "IN_PROGRESS", "REVIEW"] } })
}

pub fn search_vars(seed: u64) -> serde_json::Value {
    json!({ "n": 50, "f": { "search": SEARCH_TERMS[(seed % 6) as usize] } })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match Cli::parse().command {
        Command::Generate {
            database_url,
            defects,
            users,
            projects,
            stages,
        } => {
            generate::run(
                &database_url,
                generate::Spec {
                    defects,
                    projects,
                    stages_per_project: stages,
                    users,
                },
            )
            .await
        }
        Command::Statements { database_url } => statements::run(&database_url).await,
        Command::Subscriptions {
            database_url,
            server,
            bind_a,
            bind_b,
            subscribers,
            rate,
            seconds,
            users,
            watch,
        } => subscriptions::run(
            &database_url,
            &server,
            [&bind_a, &bind_b],
            subscriptions::Spec {
                subscribers,
                rate,
                seconds,
                users,
                watch,
            },
        )
        .await
        .map_err(|e| -> Box<dyn std::error::Error> { e }),
        Command::Notify {
            database_url,
            server,
            bind_a,
            bind_b,
            subscribers,
            rate,
            seconds,
            watchers,
            defects,
        } => notify::run(
            &database_url,
            &server,
            [&bind_a, &bind_b],
            notify::Spec {
                subscribers,
                rate,
                seconds,
                watchers,
                defects,
            },
        )
        .await
        .map_err(|e| -> Box<dyn std::error::Error> { e }),
        Command::Field {
            database_url,
            server,
            bind,
            project,
        } => field::run(&database_url, &server, &bind, &project).await,
        Command::Clock { database_url, due } => clock::run(&database_url, due)
            .await
            .map_err(|e| -> Box<dyn std::error::Error> { e }),
        Command::Drift {
            database_url,
            repair,
        } => drift(&database_url, repair).await,
        Command::Run {
            database_url,
            server,
            bind,
            concurrency,
            seconds,
            scenarios,
            settle_seconds,
        } => {
            run(
                &database_url,
                &server,
                &bind,
                concurrency,
                Duration::from_secs(seconds),
                &scenarios,
                Duration::from_secs(settle_seconds),
            )
            .await
        }
    }
}

/// The operator's `defect-control reports-check [--repair]` (`reports::check::run`),
/// timed, on the bench database.
async fn drift(database_url: &str, repair: bool) -> Result<(), Box<dyn std::error::Error>> {
    let conn = defect_control::db::connect(database_url, None).await?;
    defect_control::db::migrate(&conn).await?;
    let started = Instant::now();
    let checked =
        defect_control::domain::reports::check::run(&conn, defect_control::time::now(), repair)
            .await?;
    for d in &checked.drift {
        println!(
            "{}: maintained {}, recomputed {}",
            d.what, d.maintained, d.fresh
        );
    }
    println!(
        "report aggregate: {} difference(s) from a recomputation ({:.0} ms)",
        checked.drift.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    if let Some(left) = &checked.left {
        println!("repaired: {} difference(s) left", left.len());
    }
    if checked.exact() {
        Ok(())
    } else if repair {
        Err("the aggregate still differs after the repair".into())
    } else {
        Err("the report aggregate drifted (run with --repair to rebuild it)".into())
    }
}

async fn run(
    database_url: &str,
    server: &str,
    bind: &str,
    concurrency: usize,
    duration: Duration,
    scenarios: &str,
    settle: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let base = format!("http://{bind}");
    let started = Instant::now();
    let mut child = tokio::process::Command::new(server)
        .arg("serve")
        .envs(load::image_env())
        .env("DATABASE_URL", database_url)
        .env("BIND_ADDR", bind)
        .env("JWT_SECRET", "bench-secret-bench-secret-bench-secret!")
        .env("STORAGE_URL", "memory://")
        .env("RUST_LOG", "warn")
        .env("LOGIN_MAX_FAILURES", "1000")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or("server did not start")?;
    let client = load::client(concurrency * 2);
    loop {
        let req = hyper::Request::get(format!("{base}/ready")).body(Full::new(Bytes::new()))?;
        if let Ok(res) = client.request(req).await
            && res.status().is_success()
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err("the server did not become ready in 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ready = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = load::rss_mib(pid).unwrap_or(f64::NAN);
    println!(
        "server pid {pid}; start to ready: {:.0} ms; idle RSS: {idle:.1} MiB",
        ready.as_secs_f64() * 1000.0
    );

    let login = hyper::Request::post(format!("{base}/api/auth/login/"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            json!({ "username": "admin1", "password": "bench12345" }).to_string(),
        )))?;
    let res = client
        .request(login)
        .await?
        .into_body()
        .collect()
        .await?
        .to_bytes();
    let token = serde_json::from_slice::<serde_json::Value>(&res)?["access"]
        .as_str()
        .ok_or("login failed: was the dataset generated?")?
        .to_owned();
    let target = Arc::new(Target {
        base: base.clone(),
        token,
    });
    let total: u64 = {
        let (_, v) = graphql(
            &client,
            &target,
            "{ defects(first: 1) { totalCount } }",
            json!({}),
        )
        .await;
        v["data"]["defects"]["totalCount"].as_u64().unwrap_or(1)
    };
    println!("defects: {total}\n");
    println!(
        "| scenario | connections | req/s | p50 ms | p95 ms | p99 ms | errors | conflicts | server CPU ms/req | driver CPU ms/req |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let query_scenario =
        |name: &'static str, query: &'static str, vars: fn(u64, u64) -> serde_json::Value| {
            let (client, target) = (client.clone(), target.clone());
            async move {
                let cpu = load::CpuMeter::start(pid);
                let r = drive(name, concurrency, duration, move |w, n| {
                    let (client, target) = (client.clone(), target.clone());
                    async move {
                        graphql(
                            &client,
                            &target,
                            query,
                            vars(generate::mix((w as u64) << 32 | n), total),
                        )
                        .await
                        .0
                    }
                })
                .await;
                println!("{}", r.row(concurrency, cpu.stop()));
            }
        };
    for s in scenarios.split(',') {
        match s.trim() {
            "list" => {
                query_scenario("filtered list (50 rows)", LIST, |seed, _| list_vars(seed)).await
            }
            "detail" => {
                query_scenario(
                    "defect detail",
                    DETAIL,
                    |seed, total| json!({ "id": (1 + seed % total).to_string() }),
                )
                .await
            }
            "search" => {
                query_scenario("text search (50 rows)", SEARCH, |seed, _| search_vars(seed)).await
            }
            "search-count" => {
                query_scenario("text search + totalCount", LIST, |seed, _| {
                    search_vars(seed)
                })
                .await
            }
            "summary" => query_scenario("report: summary", SUMMARY, |_, _| json!({})).await,
            "by-project" => query_scenario("report: byProject", BY_PROJECT, |_, _| json!({})).await,
            "by-engineer" => {
                query_scenario("report: byEngineer", BY_ENGINEER, |_, _| json!({})).await
            }
            // Bounded by `from`/`to` (here: all of history), reports scan the defects
            // instead of reading the aggregate: the cost of the fallback, and of every
            // report before the aggregate.
            "summary-range" => {
                query_scenario("report: summary, from/to", SUMMARY_RANGE, |_, _| {
                    json!({ "f": { "from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z" } })
                })
                .await
            }
            // The viewer's inbox, first page, with 100k notifications of theirs.
            "inbox" => {
                inbox_rows(database_url, 100_000).await?;
                query_scenario("inbox: notifications(first: 20)", INBOX, |_, _| json!({}))
                    .await
            }
            "writes" => writes(&client, &target, concurrency, duration, pid).await?,
            // Not in the default list: compares a JWT's and an API token's cost (issue 25).
            "auth" => tokens::auth(&client, &target, concurrency, duration, pid).await?,
            "export" => export(&client, &target, pid).await?,
            "copy" => copy_floor(database_url).await?,
            "" => {}
            other => return Err(format!("unknown scenario {other}").into()),
        }
    }
    let after = load::rss_mib(pid).unwrap_or(f64::NAN);
    println!(
        "\nserver RSS: idle {idle:.1} MiB, peak {:.1} MiB (VmHWM over the whole run), {after:.1} MiB right after the scenarios",
        load::peak_rss_mib(pid).unwrap_or(f64::NAN)
    );
    if !settle.is_zero() {
        let cpu = load::CpuMeter::start(pid);
        tokio::time::sleep(settle).await;
        let settled = load::rss_mib(pid).unwrap_or(f64::NAN);
        println!(
            "server RSS {}s after the scenarios: {settled:.1} MiB = {:.2}× idle (server CPU while idle: {:.0} ms)",
            settle.as_secs(),
            settled / idle,
            cpu.stop().server * 1000.0
        );
    }
    child.kill().await.ok();
    Ok(())
}

/// Gives `admin1` (the scenarios' viewer) `n` notifications about live defects, a
/// quarter unread, unless it has them already.
async fn inbox_rows(database_url: &str, n: i64) -> Result<(), Box<dyn std::error::Error>> {
    use sea_orm::ConnectionTrait;
    let conn = defect_control::db::connect(database_url, None).await?;
    conn.execute_unprepared(&format!(
        "INSERT INTO notifications (user_id, defect_id, project_id, kind, event_id, actor_id, \
         deadline, dedupe, created_at, read_at) \
         SELECT u.id, d.id, d.project_id, 'COMMENTED', NULL, NULL, NULL, 'bench:' || d.id, \
         now() - (d.id || ' seconds')::interval, \
         CASE WHEN d.id % 4 = 0 THEN NULL ELSE now() END \
         FROM users u, (SELECT id, project_id FROM defects WHERE deleted_at IS NULL \
         ORDER BY id LIMIT {n}) d WHERE u.username = 'admin1' \
         ON CONFLICT (user_id, dedupe) DO NOTHING"
    ))
    .await?;
    conn.execute_unprepared("ANALYZE notifications").await?;
    Ok(())
}

/// Each connection's defects, with whether each is in review now.
type Owned = Arc<Vec<std::sync::Mutex<Vec<(String, bool)>>>>;

/// Half comments, half status moves (IN_PROGRESS ⇄ REVIEW), each worker on its own
/// defects so the only conflicts are real races.
async fn writes(
    client: &load::HttpClient,
    target: &Arc<Target>,
    concurrency: usize,
    duration: Duration,
    pid: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut owned: Vec<Vec<(String, bool)>> = vec![Vec::new(); concurrency];
    let (_, v) = graphql(
        client,
        target,
        "{ defects(filter: { status: [IN_PROGRESS] }, first: 100) { nodes { id } } }",
        json!({}),
    )
    .await;
    for (i, n) in v["data"]["defects"]["nodes"]
        .as_array()
        .ok_or("no defects in progress")?
        .iter()
        .enumerate()
    {
        owned[i % concurrency].push((n["id"].as_str().unwrap_or_default().to_owned(), false));
    }
    let owned: Owned = Arc::new(owned.into_iter().map(std::sync::Mutex::new).collect());
    let (client, target) = (client.clone(), target.clone());
    let cpu = load::CpuMeter::start(pid);
    let r = drive("mixed writes (comment / status)", concurrency, duration, move |w, n| {
        let (client, target, owned) = (client.clone(), target.clone(), owned.clone());
        async move {
            let pick = {
                let mut mine = owned[w].lock().expect("lock");
                if mine.is_empty() {
                    return Outcome::Error;
                }
                let k = (n as usize / 2) % mine.len();
                let (id, in_review) = mine[k].clone();
                if n % 2 == 1 {
                    mine[k].1 = !in_review;
                }
                (id, in_review)
            };
            let (id, in_review) = pick;
            if n % 2 == 0 {
                graphql(&client, &target, "mutation($id: ID!) { addComment(defectId: $id, body: \"bench\") { id } }", json!({ "id": id })).await.0
            } else {
                let to = if in_review { "IN_PROGRESS" } else { "REVIEW" };
                graphql(&client, &target, "mutation($id: ID!, $s: DefectStatus!) { changeDefectStatus(id: $id, status: $s) { version } }", json!({ "id": id, "s": to })).await.0
            }
        }
    })
    .await;
    println!("{}", r.row(concurrency, cpu.stop()));
    Ok(())
}

/// The whole table as CSV: rows/s, bytes and the server's RSS while it streams.
async fn export(
    client: &load::HttpClient,
    target: &Arc<Target>,
    pid: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    let before = load::rss_mib(pid).unwrap_or(f64::NAN);
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peak = 0f64;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(load::rss_mib(pid).unwrap_or(0.0));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            peak
        })
    };
    let cpu = load::CpuMeter::start(pid);
    let started = Instant::now();
    let req = hyper::Request::get(format!("{}/api/reports/export/", target.base))
        .header("authorization", format!("Bearer {}", target.token))
        .body(Full::new(Bytes::new()))?;
    let mut body = client.request(req).await?.into_body();
    let (mut bytes, mut lines) = (0usize, 0usize);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            bytes += data.len();
            lines += data.iter().filter(|b| **b == b'\n').count();
        }
    }
    let elapsed = started.elapsed();
    let cpu = cpu.stop();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.await?;
    let rows = lines.saturating_sub(1);
    println!(
        "\nCSV export: {rows} rows, {:.1} MiB in {:.2} s = {:.0} rows/s; server CPU {:.2} s ({:.2} µs/row); server RSS {before:.1} MiB before, {peak:.1} MiB peak while streaming",
        bytes as f64 / 1048576.0,
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64(),
        cpu.server,
        cpu.server * 1e6 / rows.max(1) as f64,
    );
    Ok(())
}

/// The export's rows (an admin's view: every live defect, by id) with the same columns
/// and names, written by PostgreSQL's own `COPY … TO STDOUT (FORMAT csv)` and read here
/// as it arrives: what the database alone needs to produce the file, the export's floor.
/// Timestamps are PostgreSQL's own text form (no formatting function), so the floor is
/// if anything optimistic.
pub const COPY_FLOOR: &str = "COPY (SELECT d.id, p.title, s.title, d.title, d.description, \
     (ARRAY['low','medium','high'])[d.priority + 1], \
     (ARRAY['new','in_progress','review','closed','cancelled'])[d.status + 1], \
     pu.username, au.username, d.deadline, d.created_at, d.updated_at, d.closed_at \
     FROM defects d JOIN projects p ON p.id = d.project_id \
     LEFT JOIN stages s ON s.id = d.stage_id \
     LEFT JOIN users pu ON pu.id = d.performer_id \
     JOIN users au ON au.id = d.author_id \
     WHERE d.deleted_at IS NULL ORDER BY d.id) TO STDOUT (FORMAT csv, HEADER)";

async fn copy_floor(database_url: &str) -> Result<(), Box<dyn std::error::Error>> {
    use futures_util::TryStreamExt;
    let db = defect_control::db::connect(database_url, None).await?;
    let mut conn = db.get_postgres_connection_pool().acquire().await?;
    sea_orm::sqlx::query("SET TIME ZONE 'UTC'")
        .execute(&mut *conn)
        .await?;
    let started = Instant::now();
    let mut out = conn.copy_out_raw(COPY_FLOOR).await?;
    let (mut bytes, mut lines) = (0usize, 0usize);
    while let Some(data) = out.try_next().await? {
        bytes += data.len();
        lines += data.iter().filter(|b| **b == b'\n').count();
    }
    let elapsed = started.elapsed();
    let rows = lines.saturating_sub(1);
    println!(
        "COPY floor (PostgreSQL COPY of the same rows and joins): {rows} rows, {:.1} MiB in {:.2} s = {:.0} rows/s",
        bytes as f64 / 1048576.0,
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
