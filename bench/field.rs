//! `bench field` (FIELD.md's figures, issue 24): a 200-item `bulkChangeStatus` (NEW to
//! CANCELLED, so every item writes) and a 5,000-row atomic `importDefects`, each timed
//! end to end over HTTP, with the server's RSS sampled every 10 ms during the import and
//! its peak (`VmHWM`) before and after.
use std::{
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use crate::load::{self, Target, graphql};

const NEW_DEFECTS: &str = "query($p: ID!, $after: String) { defects(filter: { projectId: $p, status: [NEW] }, first: 100, after: $after) { nodes { id } pageInfo { endCursor } } }";
const BULK: &str = "mutation($ids: [ID!]!) { bulkChangeStatus(ids: $ids, to: CANCELLED, comment: \"bench\") { succeeded failed } }";
const IMPORT: &str = "mutation($p: ID!, $f: Upload!) { importDefects(projectId: $p, file: $f, atomic: true) { created failed } }";

/// A 5,000-row CSV in the export's machine form, naming `stage` on every row.
fn sheet(stage: &str) -> Vec<u8> {
    let mut csv = String::from("title,description,stage,priority,deadline\r\n");
    for i in 0..5_000 {
        let priority = ["low", "medium", "high"][i % 3];
        csv.push_str(&format!(
            "Imported remark {i},\"Found on the walk, axis {}/{}\",{stage},{priority},2031-0{}-1{}\r\n",
            i % 12,
            i % 7,
            1 + i % 9,
            i % 10
        ));
    }
    csv.into_bytes()
}

fn multipart(token: &str, base: &str, project: &str, file: Vec<u8>) -> hyper::Request<Full<Bytes>> {
    let boundary = "----bench-field-boundary";
    let operations = json!({ "query": IMPORT, "variables": { "p": project, "f": null } });
    let mut body = Vec::new();
    for (name, value) in [
        ("operations", operations.to_string()),
        ("map", json!({ "0": ["variables.f"] }).to_string()),
    ] {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"remarks.csv\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
    );
    body.extend(file);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    hyper::Request::post(format!("{base}/graphql"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::from(body)))
        .expect("request")
}

pub async fn run(
    database_url: &str,
    server: &str,
    bind: &str,
    project: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let base = format!("http://{bind}");
    let mut child = tokio::process::Command::new(server)
        .arg("serve")
        .envs(load::image_env())
        .env("DATABASE_URL", database_url)
        .env("BIND_ADDR", bind)
        .env("JWT_SECRET", "bench-secret-bench-secret-bench-secret!")
        .env("STORAGE_URL", "memory://")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or("server did not start")?;
    let client = load::client(4);
    let started = Instant::now();
    loop {
        let req = hyper::Request::get(format!("{base}/ready")).body(Full::new(Bytes::new()))?;
        if let Ok(res) = client.request(req).await
            && res.status().is_success()
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err("the server did not become ready in 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let login = hyper::Request::post(format!("{base}/api/auth/login/"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            json!({ "username": "admin1", "password": "bench12345" }).to_string(),
        )))?;
    let res = client.request(login).await?.into_body().collect().await?;
    let token = serde_json::from_slice::<Value>(&res.to_bytes())?["access"]
        .as_str()
        .ok_or("login failed: was the dataset generated?")?
        .to_owned();
    let target = Target {
        base: base.clone(),
        token: token.clone(),
    };

    // 200 NEW defects of the project.
    let (mut ids, mut after) = (Vec::new(), Value::Null);
    while ids.len() < 200 {
        let (_, v) = graphql(
            &client,
            &target,
            NEW_DEFECTS,
            json!({ "p": project, "after": after }),
        )
        .await;
        let nodes = v["data"]["defects"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if nodes.is_empty() {
            break;
        }
        ids.extend(nodes.iter().map(|n| n["id"].clone()));
        after = v["data"]["defects"]["pageInfo"]["endCursor"].clone();
    }
    ids.truncate(200);
    let t = Instant::now();
    let (_, v) = graphql(&client, &target, BULK, json!({ "ids": ids })).await;
    let bulk = t.elapsed();
    println!(
        "bulkChangeStatus, {} ids: {:.0} ms ({})",
        ids.len(),
        bulk.as_secs_f64() * 1000.0,
        v["data"]["bulkChangeStatus"]
    );

    let (_, v) = graphql(
        &client,
        &target,
        "query($p: ID!) { project(id: $p) { stages { title } } }",
        json!({ "p": project }),
    )
    .await;
    let stage = v["data"]["project"]["stages"][0]["title"]
        .as_str()
        .ok_or("the project has no stage")?
        .replace([',', '"'], " ");
    let file = sheet(&stage);
    let bytes = file.len();
    let before = load::rss_mib(pid).unwrap_or(f64::NAN);
    let hwm_before = load::peak_rss_mib(pid).unwrap_or(f64::NAN);
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = 0f64;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(load::rss_mib(pid).unwrap_or(0.0));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            peak
        })
    };
    let t = Instant::now();
    let res = client
        .request(multipart(&token, &base, project, file))
        .await?;
    let body = res.into_body().collect().await?.to_bytes();
    let import = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.await?;
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    println!(
        "importDefects, 5,000 rows ({:.1} KiB CSV), atomic: {:.0} ms ({}); server RSS {before:.1} MiB before, {peak:.1} MiB peak sampled, VmHWM {hwm_before:.1} → {:.1} MiB",
        bytes as f64 / 1024.0,
        import.as_secs_f64() * 1000.0,
        if v["errors"].is_null() {
            v["data"]["importDefects"].clone()
        } else {
            v["errors"].clone()
        },
        load::peak_rss_mib(pid).unwrap_or(f64::NAN)
    );
    child.kill().await.ok();
    Ok(())
}
