//! Webhooks (NOTIFY.md, "Webhooks") end to end, with a receiver started by each test
//! (`receiver.rs`) on 127.0.0.1: delivery and its Standard Webhooks signature (checked
//! here with the `hmac` crate directly and, when `python3` has it, with the
//! specification's own `standardwebhooks` package), the body, retries, the order held
//! behind a failing delivery, FAILED after the attempts, replay, rotation, kinds and
//! scope. Time is driven by making the queued attempt due in the database, not by
//! sleeping. Permissions and the address rule are in `access.rs`.
mod access;
mod receiver;

use std::time::{Duration, Instant};

use base64::{Engine, engine::general_purpose::STANDARD};
use defect_control::{
    config::Config,
    domain::defects::service::{self as defect_service, DefectPatch},
    entities::{defects, enums::Role},
};
use hmac::{Hmac, Mac};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use sha2::Sha256;

use self::receiver::{Mode, Receiver};
use crate::{
    builders::{DefectBuilder, ProjectBuilder},
    helpers::{Actor, TestApp, apps_with},
};

pub const CREATE: &str = r"
    mutation($p: ID, $u: String!, $k: [DefectEventKind!]) {
      createWebhook(projectId: $p, url: $u, kinds: $k) {
        secret webhook { id url kinds active project { id } createdBy { id } }
      }
    }
";
const DELIVERIES: &str = r"
    query($p: ID) {
      webhooks(projectId: $p) {
        id
        deliveries(first: 50) {
          totalCount
          nodes { eventId status attempts responseCode error lastAttemptAt nextAttemptAt event { id } }
        }
      }
    }
";

/// Apps whose deliveries may reach the test's receiver on 127.0.0.1, with a short
/// attempt timeout.
pub async fn hook_apps() -> Vec<TestApp> {
    apps_with(|c: &mut Config| {
        c.webhook_allow_private = true;
        c.webhook_timeout = Duration::from_millis(500);
    })
    .await
}

pub struct Setup {
    pub admin: Actor,
    pub manager: Actor,
    pub project: i32,
}

/// An admin, a manager who is a member of project `СК1`, and the journal consumed so
/// far (so earlier events are not delivered).
pub async fn setup(app: &TestApp) -> Setup {
    let admin = app.actor(Role::Admin).await;
    let manager = app.actor(Role::Manager).await;
    let project = ProjectBuilder::new(&admin, "Tower")
        .code("СК1")
        .member(manager.id)
        .create(app)
        .await
        .id;
    app.pump().await;
    Setup {
        admin,
        manager,
        project,
    }
}

/// Creates a webhook through the API; returns (id, secret).
pub async fn create(
    app: &TestApp,
    who: &Actor,
    project: Option<i32>,
    url: &str,
    kinds: Value,
) -> (String, String) {
    let data = app
        .ok(
            who,
            CREATE,
            json!({"p": project.map(|p| p.to_string()), "u": url, "k": kinds}),
        )
        .await;
    let w = &data["createWebhook"];
    (
        w["webhook"]["id"].as_str().expect("id").to_owned(),
        w["secret"].as_str().expect("secret").to_owned(),
    )
}

pub async fn defect(app: &TestApp, s: &Setup, title: &str) -> defects::Model {
    DefectBuilder::new(s.project, &s.manager, &s.manager)
        .title(title)
        .create(app)
        .await
}

/// The newest event's id.
pub async fn last_event(app: &TestApp) -> i64 {
    let row = app
        .db()
        .query_one_raw(Statement::from_string(
            app.db().get_database_backend(),
            "SELECT MAX(id) AS n FROM defect_events",
        ))
        .await
        .expect("query")
        .expect("row");
    i64::from(row.try_get::<i32>("", "n").expect("n"))
}

/// Makes every queued webhook attempt due now (as if its backoff had passed).
pub async fn make_due(app: &TestApp) {
    let backend = app.db().get_database_backend();
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    for sql in [
        "UPDATE jobs SET run_at = $1 WHERE kind = 'webhook' AND state = 'pending'",
        "UPDATE webhook_deliveries SET next_at = $1 WHERE state = 'PENDING'",
    ] {
        let sql = match backend {
            sea_orm::DbBackend::Postgres => sql.to_owned(),
            _ => sql.replace("$1", "?"),
        };
        app.db()
            .execute_raw(Statement::from_sql_and_values(backend, sql, [past.into()]))
            .await
            .expect("make due");
    }
}

/// The deliveries of the viewer's webhooks, newest first.
pub async fn deliveries(app: &TestApp, who: &Actor) -> Vec<Value> {
    let data = app.ok(who, DELIVERIES, json!({})).await;
    data["webhooks"]
        .as_array()
        .expect("webhooks")
        .iter()
        .flat_map(|w| {
            w["deliveries"]["nodes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

/// Checks a request's Standard Webhooks signature with `secret`, written out here
/// (not the server's code): HMAC-SHA256 of "id.timestamp.body" keyed with the
/// base64-decoded secret.
pub fn verify(secret: &str, got: &receiver::Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
    mac.update(
        format!(
            "{}.{}.",
            got.header("webhook-id"),
            got.header("webhook-timestamp")
        )
        .as_bytes(),
    );
    mac.update(&got.body);
    let want = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    got.header("webhook-signature")
        .split(' ')
        .any(|s| s == want)
}

/// The `standardwebhooks` package (the specification authors' Python library), when
/// `python3` has it installed: `Some(verified)`, else None (the check is skipped, and
/// says so).
fn python_verifies(secret: &str, got: &receiver::Received) -> Option<bool> {
    let script = r#"
import json, sys
try:
    from standardwebhooks.webhooks import Webhook
except ImportError:
    sys.exit(3)
d = json.load(sys.stdin)
try:
    Webhook(d["secret"]).verify(d["body"].encode(), d["headers"])
    print("ok")
except Exception as e:
    print("bad", e)
"#;
    let input = json!({
        "secret": secret,
        "body": String::from_utf8(got.body.to_vec()).expect("utf-8"),
        "headers": {
            "webhook-id": got.header("webhook-id"),
            "webhook-timestamp": got.header("webhook-timestamp"),
            "webhook-signature": got.header("webhook-signature"),
        },
    });
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().ok()?;
    if out.status.code() == Some(3) {
        eprintln!("standardwebhooks is not installed for python3: its check is skipped");
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim() == "ok")
}

#[tokio::test]
async fn an_event_is_delivered_signed_with_the_body_of_the_contract() {
    for app in hook_apps().await {
        let rx = Receiver::start(Mode::Statuses(&[])).await;
        let s = setup(&app).await;
        let (_, secret) = create(&app, &s.admin, Some(s.project), &rx.url(), json!([])).await;
        let d = defect(&app, &s, "Crack in the screed").await;
        let event = last_event(&app).await;
        app.pump().await;

        let got = rx.got();
        assert_eq!(got.len(), 1, "[{}] one request", app.backend);
        let r = &got[0];
        assert_eq!(r.header("webhook-id"), event.to_string());
        assert_eq!(r.header("content-type"), "application/json");
        let ts: i64 = r.header("webhook-timestamp").parse().expect("unix seconds");
        assert!((chrono::Utc::now().timestamp() - ts).abs() < 60);
        assert!(verify(&secret, r), "[{}] signature", app.backend);
        assert!(!verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", r));
        if let Some(ok) = python_verifies(&secret, r) {
            assert!(
                ok,
                "[{}] standardwebhooks rejects the signature",
                app.backend
            );
        }
        let body = r.json();
        assert_eq!(body["type"], "defect.created");
        let e = &body["data"]["event"];
        assert_eq!(e["id"], event.to_string());
        assert_eq!(e["kind"], "CREATED");
        assert_eq!(e["defectId"], d.id.to_string());
        assert_eq!(e["projectId"], s.project.to_string());
        assert_eq!(e["actorId"], s.manager.id.to_string());
        assert_eq!(body["timestamp"], e["at"]);
        assert!(e["changes"].is_array());
        let def = &body["data"]["defect"];
        assert_eq!(def["id"], d.id.to_string());
        assert_eq!(def["key"], "СК1-001");
        assert_eq!(def["title"], "Crack in the screed");
        assert_eq!(def["status"], "NEW");
        assert_eq!(
            def["priority"],
            json!(defect_control::entities::enums::Priority::Medium)
        );
        assert!(def.get("performerId").is_some() && def.get("deadline").is_some());

        let log = deliveries(&app, &s.admin).await;
        assert_eq!(log.len(), 1);
        assert_eq!(log[0]["status"], "DELIVERED");
        assert_eq!(log[0]["attempts"], 1);
        assert_eq!(log[0]["responseCode"], 200);
        assert_eq!(log[0]["event"]["id"], event.to_string());
        assert!(log[0]["nextAttemptAt"].is_null());
        // Nothing more to do: a second pump sends nothing again.
        app.pump().await;
        assert_eq!(rx.got().len(), 1);
    }
}

#[tokio::test]
async fn a_failing_delivery_is_retried_and_holds_the_later_ones_back() {
    for app in hook_apps().await {
        let rx = Receiver::start(Mode::Statuses(&[500, 503])).await;
        let s = setup(&app).await;
        create(&app, &s.admin, Some(s.project), &rx.url(), json!([])).await;
        defect(&app, &s, "first").await;
        let e1 = last_event(&app).await.to_string();
        defect(&app, &s, "second").await;
        let e2 = last_event(&app).await.to_string();
        app.pump().await;
        assert_eq!(rx.ids(), std::slice::from_ref(&e1), "[{}]", app.backend);
        let log = deliveries(&app, &s.admin).await;
        let (second, first) = (&log[0], &log[1]);
        assert_eq!(first["status"], "PENDING");
        assert_eq!(first["attempts"], 1);
        assert_eq!(first["responseCode"], 500);
        let next: chrono::DateTime<chrono::Utc> = first["nextAttemptAt"]
            .as_str()
            .expect("next")
            .parse()
            .expect("time");
        let wait = next - chrono::Utc::now();
        assert!(
            wait <= chrono::Duration::seconds(30) && wait > chrono::Duration::seconds(10),
            "{wait}"
        );
        assert_eq!(second["status"], "PENDING");
        assert_eq!(second["attempts"], 0, "held back behind the first");

        // Not due yet: nothing is sent.
        app.pump().await;
        assert_eq!(rx.ids().len(), 1);
        make_due(&app).await;
        app.pump().await;
        assert_eq!(rx.ids(), [e1.clone(), e1.clone()]);
        make_due(&app).await;
        app.pump().await;
        assert_eq!(
            rx.ids(),
            [e1.clone(), e1.clone(), e1, e2],
            "[{}]",
            app.backend
        );
        let log = deliveries(&app, &s.admin).await;
        assert!(log.iter().all(|d| d["status"] == "DELIVERED"), "{log:?}");
        assert_eq!(log[1]["attempts"], 3);
        assert_eq!(log[0]["attempts"], 1);
    }
}

#[tokio::test]
async fn a_delivery_fails_after_its_attempts_and_releases_the_next() {
    for app in hook_apps().await {
        let rx = Receiver::start(Mode::Statuses(&[500; 64])).await;
        let s = setup(&app).await;
        create(&app, &s.admin, Some(s.project), &rx.url(), json!([])).await;
        defect(&app, &s, "first").await;
        let e1 = last_event(&app).await.to_string();
        defect(&app, &s, "second").await;
        let e2 = last_event(&app).await.to_string();
        app.pump().await;
        for _ in 1..defect_control::domain::webhooks::policy::MAX_ATTEMPTS {
            make_due(&app).await;
            app.pump().await;
        }
        let ids = rx.ids();
        let max = defect_control::domain::webhooks::policy::MAX_ATTEMPTS as usize;
        assert_eq!(ids.len(), max + 1, "[{}] {ids:?}", app.backend);
        assert!(ids[..max].iter().all(|i| *i == e1));
        assert_eq!(ids[max], e2, "the next goes once the first is FAILED");
        let log = deliveries(&app, &s.admin).await;
        assert_eq!(log[1]["status"], "FAILED");
        assert_eq!(log[1]["attempts"], max);
        assert_eq!(log[1]["error"], "HTTP 500");
        assert!(log[1]["nextAttemptAt"].is_null());
        assert_eq!(log[0]["status"], "PENDING");
        assert_eq!(log[0]["attempts"], 1);
    }
}

#[tokio::test]
async fn replay_queues_the_events_after_the_cursor_again_in_order() {
    for app in hook_apps().await {
        let rx = Receiver::start(Mode::Statuses(&[])).await;
        let s = setup(&app).await;
        let (id, _) = create(&app, &s.admin, Some(s.project), &rx.url(), json!([])).await;
        let mut events = Vec::new();
        for t in ["a", "b", "c"] {
            defect(&app, &s, t).await;
            events.push(last_event(&app).await.to_string());
        }
        app.pump().await;
        assert_eq!(rx.ids(), events);
        let cursor =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("[{}]", events[0]));
        let data = app
            .ok(
                &s.admin,
                "mutation($id: ID!, $a: String!) { replayWebhook(id: $id, after: $a) }",
                json!({"id": id, "a": cursor}),
            )
            .await;
        assert_eq!(data["replayWebhook"], 2, "[{}]", app.backend);
        app.pump().await;
        assert_eq!(rx.ids()[3..], events[1..], "[{}]", app.backend);
        assert_eq!(deliveries(&app, &s.admin).await.len(), 5);
        let code = app
            .code(
                Some(&s.admin.token),
                "mutation($id: ID!, $a: String!) { replayWebhook(id: $id, after: $a) }",
                json!({"id": id, "a": "nonsense"}),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT");
    }
}

#[tokio::test]
async fn after_a_rotation_only_the_new_secret_signs() {
    for app in hook_apps().await {
        let rx = Receiver::start(Mode::Statuses(&[])).await;
        let s = setup(&app).await;
        let (id, old) = create(&app, &s.admin, Some(s.project), &rx.url(), json!([])).await;
        let data = app
            .ok(
                &s.admin,
                "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret webhook { id } } }",
                json!({"id": id}),
            )
            .await;
        let new = data["rotateWebhookSecret"]["secret"]
            .as_str()
            .expect("secret")
            .to_owned();
        assert!(new.starts_with("whsec_") && new != old);
        defect(&app, &s, "after").await;
        app.pump().await;
        let got = rx.got();
        assert_eq!(got.len(), 1);
        assert!(verify(&new, &got[0]), "[{}] new secret", app.backend);
        assert!(!verify(&old, &got[0]), "[{}] old secret", app.backend);
        // The secret is never readable afterwards.
        let body = app
            .gql(Some(&s.admin.token), "{ webhooks { secret } }", json!({}))
            .await;
        assert!(body["errors"].is_array());
    }
}

#[tokio::test]
async fn kinds_and_project_scope_select_the_events() {
    for app in hook_apps().await {
        let updates = Receiver::start(Mode::Statuses(&[])).await;
        let other = Receiver::start(Mode::Statuses(&[])).await;
        let everything = Receiver::start(Mode::Statuses(&[])).await;
        let s = setup(&app).await;
        let elsewhere = app.project(&s.admin, "Elsewhere").await.id;
        create(
            &app,
            &s.admin,
            Some(s.project),
            &updates.url(),
            json!(["UPDATED"]),
        )
        .await;
        create(&app, &s.admin, Some(elsewhere), &other.url(), json!([])).await;
        create(&app, &s.admin, None, &everything.url(), json!([])).await;
        let d = defect(&app, &s, "a").await;
        let patch = DefectPatch {
            title: Some(Some("b".into())),
            ..Default::default()
        };
        defect_service::update(app.db(), &s.manager.viewer(), d.id, patch, None)
            .await
            .expect("update");
        let updated = last_event(&app).await.to_string();
        app.pump().await;
        assert_eq!(
            updates.ids(),
            std::slice::from_ref(&updated),
            "[{}]",
            app.backend
        );
        assert_eq!(updates.got()[0].json()["type"], "defect.updated");
        assert_eq!(
            updates.got()[0].json()["data"]["event"]["changes"][0],
            json!({"field": "title", "from": "a", "to": "b"})
        );
        assert!(other.ids().is_empty(), "another project's webhook");
        assert_eq!(everything.ids().len(), 2, "every project, every kind");
    }
}

#[tokio::test]
async fn a_hanging_receiver_costs_one_timeout_and_a_huge_answer_is_cut_short() {
    for app in hook_apps().await {
        let hang = Receiver::start(Mode::Hang).await;
        let huge = Receiver::start(Mode::Huge).await;
        let s = setup(&app).await;
        create(&app, &s.admin, Some(s.project), &hang.url(), json!([])).await;
        create(&app, &s.admin, Some(s.project), &huge.url(), json!([])).await;
        defect(&app, &s, "a").await;
        let started = Instant::now();
        app.pump().await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(hang.got().len(), 1);
        assert_eq!(huge.got().len(), 1);
        assert!(
            huge.produced() < 16 * 1024 * 1024,
            "[{}] read {} bytes of the huge answer",
            app.backend,
            huge.produced()
        );
        let mut log = deliveries(&app, &s.admin).await;
        log.sort_by_key(|d| d["status"].as_str().map(str::to_owned));
        assert_eq!(log[0]["status"], "DELIVERED", "{log:?}");
        assert_eq!(log[1]["status"], "PENDING");
        assert!(log[1]["responseCode"].is_null());
        assert!(
            log[1]["error"]
                .as_str()
                .expect("error")
                .contains("timed out"),
            "{log:?}"
        );
    }
}

#[tokio::test]
async fn two_instances_deliver_each_event_once() {
    for app in hook_apps().await {
        let rx = Receiver::start(Mode::Statuses(&[])).await;
        let s = setup(&app).await;
        create(&app, &s.admin, None, &rx.url(), json!([])).await;
        let twin = app
            .twin_with(|c: &mut Config| {
                c.webhook_allow_private = true;
                c.webhook_timeout = Duration::from_millis(500);
            })
            .await;
        let mut events = Vec::new();
        for i in 0..20 {
            defect(&app, &s, &format!("d{i}")).await;
            events.push(last_event(&app).await.to_string());
            if i % 5 == 4 {
                tokio::join!(app.pump(), twin.pump());
            }
        }
        tokio::join!(app.pump(), twin.pump());
        tokio::join!(app.pump(), twin.pump());
        assert_eq!(rx.ids(), events, "[{}] each once, in order", app.backend);
        drop(twin);
    }
}
