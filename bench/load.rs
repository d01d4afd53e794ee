//! A small HTTP load driver: a fixed number of connections for a fixed time, each
//! sending its scenario's requests back to back; prints throughput and latency
//! percentiles. Hand-written rather than `oha`/`wrk` so that every scenario (GraphQL
//! bodies with random ids, write mixes, a streamed export) is one command with no extra
//! install.
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde_json::{Value, json};

pub type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub fn client(pool: usize) -> HttpClient {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(pool)
        .build_http()
}

pub struct Target {
    pub base: String,
    pub token: String,
}

/// One request's outcome: whether it succeeded and, for writes, whether it was a
/// version conflict (expected under concurrency, reported apart from errors).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Conflict,
    Error,
}

pub async fn graphql(
    client: &HttpClient,
    t: &Target,
    query: &str,
    variables: Value,
) -> (Outcome, Value) {
    let body = json!({ "query": query, "variables": variables }).to_string();
    let req = hyper::Request::post(format!("{}/graphql", t.base))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", t.token))
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let Ok(res) = client.request(req).await else {
        return (Outcome::Error, Value::Null);
    };
    let ok_status = res.status().is_success();
    let Ok(bytes) = res.into_body().collect().await.map(|b| b.to_bytes()) else {
        return (Outcome::Error, Value::Null);
    };
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let code = v["errors"][0]["extensions"]["code"].as_str();
    let outcome = match (ok_status, code) {
        (true, None) => Outcome::Ok,
        (_, Some("CONFLICT" | "INVALID_TRANSITION")) => Outcome::Conflict,
        _ => Outcome::Error,
    };
    (outcome, v)
}

pub struct Report {
    pub name: String,
    pub requests: usize,
    pub errors: usize,
    pub conflicts: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

impl Report {
    fn pct(&self, p: usize) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() * p) / 100).min(self.latencies.len() - 1);
        self.latencies[i].as_secs_f64() * 1000.0
    }

    /// One Markdown row; `cpu` is the server's and the driver's CPU time over the run.
    pub fn row(&self, concurrency: usize, cpu: Cpu) -> String {
        let per_request = |s: f64| s * 1000.0 / self.requests.max(1) as f64;
        format!(
            "| {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {} | {} | {:.2} | {:.2} |",
            self.name,
            concurrency,
            self.requests as f64 / self.elapsed.as_secs_f64(),
            self.pct(50),
            self.pct(95),
            self.pct(99),
            self.errors,
            self.conflicts,
            per_request(cpu.server),
            per_request(cpu.driver),
        )
    }
}

/// Runs `make_request(worker, n)` on `concurrency` workers for `duration`.
pub async fn drive<F, Fut>(
    name: &str,
    concurrency: usize,
    duration: Duration,
    make_request: F,
) -> Report
where
    F: Fn(usize, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Outcome> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let f = make_request.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let o = f(w, n).await;
                out.push((t.elapsed(), o));
                n += 1;
            }
            out
        }));
    }
    let mut latencies = Vec::new();
    let (mut errors, mut conflicts) = (0, 0);
    for t in tasks {
        for (d, o) in t.await.expect("worker") {
            latencies.push(d);
            match o {
                Outcome::Ok => {}
                Outcome::Conflict => conflicts += 1,
                Outcome::Error => errors += 1,
            }
        }
    }
    latencies.sort();
    Report {
        name: name.into(),
        requests: latencies.len(),
        errors,
        conflicts,
        elapsed: started.elapsed(),
        latencies,
    }
}

/// Peak resident memory of a process so far (Linux `VmHWM`), in MiB.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    rss_field(pid, "VmHWM:")
}

pub fn rss_mib(pid: u32) -> Option<f64> {
    rss_field(pid, "VmRSS:")
}

fn rss_field(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU seconds (user + system, every thread, exited ones included) spent over an interval
/// by the server and by this load driver.
#[derive(Clone, Copy, Default)]
pub struct Cpu {
    pub server: f64,
    pub driver: f64,
}

/// Measures the CPU the server (`pid`) and this process spend from `start` to `stop`.
pub struct CpuMeter {
    pid: u32,
    server: f64,
    driver: f64,
}

impl CpuMeter {
    pub fn start(pid: u32) -> Self {
        CpuMeter {
            pid,
            server: cpu_seconds(&pid.to_string()).unwrap_or(f64::NAN),
            driver: cpu_seconds("self").unwrap_or(f64::NAN),
        }
    }

    pub fn stop(&self) -> Cpu {
        Cpu {
            server: cpu_seconds(&self.pid.to_string()).unwrap_or(f64::NAN) - self.server,
            driver: cpu_seconds("self").unwrap_or(f64::NAN) - self.driver,
        }
    }
}

/// `utime + stime` of `/proc/<pid>/stat` in seconds. Linux counts them in USER_HZ ticks,
/// 100 per second on every architecture it exposes to user space (`sysconf(_SC_CLK_TCK)`
/// would need `unsafe`, which this crate forbids); over a 10 s scenario the 10 ms
/// granularity is far below the error of a shared machine.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 overall; `rest` starts at field 3.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The allocator settings of the Docker image (Dockerfile `ENV`), so the bench measures
/// the server as it runs in production; a value already in the bench's environment wins
/// (to compare settings). `MIMALLOC_PURGE_DELAY=0`: freed memory goes back to the OS at
/// once instead of after mimalloc's 1 s (10 s for arenas) delay, which in practice
/// waited for the next allocation on the same thread, i.e. forever on an idle server.
pub fn image_env() -> Vec<(&'static str, String)> {
    [("MIMALLOC_ALLOW_THP", "0"), ("MIMALLOC_PURGE_DELAY", "0")]
        .into_iter()
        .map(|(k, v)| (k, std::env::var(k).unwrap_or_else(|_| v.to_owned())))
        .collect()
}
