//! Notification e-mails over a real SMTP conversation: a small ESMTP sink on loopback
//! (greeting, EHLO, MAIL FROM, RCPT TO, DATA with dot-unstuffing, QUIT; 4xx/5xx on
//! demand) receives what the engine's `email` jobs send. Notifications are made with
//! `store::insert` in a transaction, as the journal's consumer does.
use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use base64::Engine as _;
use chrono::{Duration, NaiveDate};
use defect_control::{
    config::Config,
    db,
    domain::{
        notifications::store::{self, New},
        projects::site_time,
    },
    entities::{
        defects,
        enums::{NotificationKind, Role},
        jobs, notification_settings,
    },
    state::AppState,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
    sea_query::Expr,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

use crate::{
    builders::{DefectBuilder, ProjectBuilder, deactivate},
    helpers::{Actor, TestApp, apps_with},
};

const PUBLIC: &str = "https://defects.example.com";

/// One message as the sink received it.
#[derive(Clone, Debug)]
struct Mail {
    rcpt: Vec<String>,
    /// Headers unfolded, then the blank line, then the body (dot-unstuffed).
    data: String,
}

impl Mail {
    fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.data.split_once("\r\n\r\n")?;
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.split("\r\n").find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// The subject with its RFC 2047 encoded words decoded.
    fn subject(&self) -> String {
        decode_words(&self.header("Subject").expect("a subject"))
    }

    /// The body decoded by its `Content-Transfer-Encoding`.
    fn body(&self) -> String {
        let (_, raw) = self.data.split_once("\r\n\r\n").expect("a body");
        let cte = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = match cte.as_str() {
            "base64" => base64::engine::general_purpose::STANDARD
                .decode(raw.split_whitespace().collect::<String>())
                .expect("base64 body"),
            "quoted-printable" => quoted_printable(raw),
            _ => raw.as_bytes().to_vec(),
        };
        String::from_utf8(bytes)
            .expect("UTF-8 body")
            .replace("\r\n", "\n")
    }
}

fn quoted_printable(raw: &str) -> Vec<u8> {
    let raw = raw.replace("=\r\n", "");
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).expect("QP escape"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// `=?utf-8?b?…?= =?utf-8?b?…?=` (adjacent encoded words join without the space).
fn decode_words(value: &str) -> String {
    let mut bytes = Vec::new();
    let mut last_encoded = false;
    for (i, token) in value.split(' ').enumerate() {
        let parts: Vec<&str> = token.split('?').collect();
        let encoded = parts.len() == 5 && parts[0] == "=" && parts[4] == "=";
        if i > 0 && !(encoded && last_encoded) {
            bytes.push(b' ');
        }
        if encoded {
            bytes.extend(match parts[2].to_ascii_lowercase().as_str() {
                "b" => base64::engine::general_purpose::STANDARD
                    .decode(parts[3])
                    .expect("B word"),
                _ => quoted_printable(&parts[3].replace('_', " ")),
            });
        } else {
            bytes.extend(token.as_bytes());
        }
        last_encoded = encoded;
    }
    String::from_utf8(bytes).expect("UTF-8 subject")
}

/// An SMTP server on 127.0.0.1 that keeps what it receives.
struct Sink {
    port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    /// Replies to the next MAIL FROM commands instead of 250 (`451 …`, `550 …`).
    refusals: Arc<Mutex<VecDeque<&'static str>>>,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sink {
    async fn start() -> Sink {
        Sink::on(TcpListener::bind("127.0.0.1:0").await.expect("bind")).await
    }

    async fn on(listener: TcpListener) -> Sink {
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let refusals = Arc::new(Mutex::new(VecDeque::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (m, r, c) = (mails.clone(), refusals.clone(), connections.clone());
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(converse(socket, m.clone(), r.clone()));
            }
        });
        Sink {
            port,
            mails,
            refusals,
            connections,
            task,
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    fn refuse_next(&self, reply: &'static str) {
        self.refusals.lock().unwrap().push_back(reply);
    }
}

async fn converse(
    socket: tokio::net::TcpStream,
    mails: Arc<Mutex<Vec<Mail>>>,
    refusals: Arc<Mutex<VecDeque<&'static str>>>,
) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    if !say(&mut write, "220 sink ESMTP").await {
        return;
    }
    let mut rcpt = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let cmd = line.trim_end().to_owned();
        let verb = cmd
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" => "250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8".to_owned(),
            "HELO" | "NOOP" => "250 ok".to_owned(),
            "RSET" => {
                rcpt.clear();
                "250 ok".to_owned()
            }
            "MAIL" => {
                rcpt.clear();
                let refusal = refusals.lock().unwrap().pop_front();
                refusal.unwrap_or("250 ok").to_owned()
            }
            "RCPT" => {
                let to = cmd.split_once(':').map(|x| x.1).unwrap_or("");
                rcpt.push(to.trim().trim_matches(['<', '>']).to_owned());
                "250 ok".to_owned()
            }
            "DATA" => {
                if !say(&mut write, "354 go ahead").await {
                    return;
                }
                let mut data = Vec::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let l = line.trim_end_matches(['\r', '\n']);
                    if l == "." {
                        break;
                    }
                    // Dot-unstuffing (RFC 5321 4.5.2).
                    data.push(l.strip_prefix('.').unwrap_or(l).to_owned());
                }
                mails.lock().unwrap().push(Mail {
                    rcpt: std::mem::take(&mut rcpt),
                    data: data.join("\r\n"),
                });
                "250 queued".to_owned()
            }
            "QUIT" => {
                say(&mut write, "221 bye").await;
                return;
            }
            _ => "502 unknown command".to_owned(),
        };
        if !say(&mut write, &reply).await {
            return;
        }
    }
}

async fn say(w: &mut tokio::net::tcp::OwnedWriteHalf, s: &str) -> bool {
    w.write_all(format!("{s}\r\n").as_bytes()).await.is_ok()
}

/// A port with nothing listening on it (reserved, then let go).
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn with_smtp(url: String) -> impl Fn(&mut Config) {
    move |c: &mut Config| {
        c.smtp_url = Some(url.clone());
        c.smtp_from = "Defects <noreply@example.com>".into();
        c.public_url = Some(PUBLIC.into());
    }
}

/// A project `СК1` with `members` and one defect by its manager.
async fn defect(app: &TestApp, manager: &Actor, members: &[&Actor]) -> defects::Model {
    let mut project = ProjectBuilder::new(manager, "ЖК Северный").code("СК1");
    for m in members {
        project = project.member(m.id);
    }
    let project = project.create(app).await;
    let defect = DefectBuilder::new(project.id, manager, manager)
        .title("Трещина в стяжке")
        .create(app)
        .await;
    // The first pump starts the engine's consumers at the journal's end: what the
    // defect's creation journaled notifies no one here; only the rows made below mail.
    app.pump().await;
    defect
}

/// Inserts one notification as the journal's consumer does (e-mail on); returns its id,
/// or None when one of the same cause was there (dedupe).
async fn notify(
    app: &TestApp,
    user: &Actor,
    d: &defects::Model,
    kind: NotificationKind,
    actor: Option<i32>,
    deadline: Option<NaiveDate>,
) -> Option<i32> {
    let txn = app.db().begin().await.unwrap();
    let rows = store::insert(
        &txn,
        vec![New {
            user_id: user.id,
            defect_id: d.id,
            project_id: d.project_id,
            kind,
            event_id: None,
            actor_id: actor,
            deadline,
            dedupe: format!("t:{kind:?}:{}:{}", d.id, user.id),
        }],
        true,
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    rows.first().map(|n| n.id)
}

async fn settings(app: &TestApp, user: i32, email: bool, language: &str) {
    notification_settings::ActiveModel {
        user_id: Set(user),
        email: Set(email),
        muted: Set("[]".into()),
        language: Set(language.into()),
        updated_at: Set(defect_control::time::now()),
    }
    .insert(app.db())
    .await
    .unwrap();
}

async fn email_jobs(db: &sea_orm::DatabaseConnection) -> Vec<jobs::Model> {
    jobs::Entity::find()
        .filter(jobs::Column::Kind.eq("email"))
        .order_by_asc(jobs::Column::Id)
        .all(db)
        .await
        .unwrap()
}

/// What a retry waits for, cut short: the test's clock does not wait 30 s.
async fn make_due(db: &sea_orm::DatabaseConnection) {
    jobs::Entity::update_many()
        .col_expr(
            jobs::Column::RunAt,
            Expr::value(defect_control::time::now()),
        )
        .filter(jobs::Column::State.eq("pending"))
        .exec(db)
        .await
        .unwrap();
}

fn to(mails: &[Mail], user: &Actor) -> Vec<Mail> {
    let address = format!("{}@test.local", user.username);
    mails
        .iter()
        .filter(|m| m.rcpt.contains(&address))
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_notification_is_mailed_once_in_the_users_language() {
    let sink = Sink::start().await;
    for app in apps_with(with_smtp(sink.url())).await {
        let manager = app.actor(Role::Manager).await;
        let (ivan, jane) = (
            app.actor(Role::Engineer).await,
            app.actor(Role::Engineer).await,
        );
        settings(&app, ivan.id, true, "ru").await;
        let d = defect(&app, &manager, &[&ivan, &jane]).await;
        let project = defect_control::entities::projects::Entity::find_by_id(d.project_id)
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        let three_days_ago = site_time::today(&project.time_zone) - Duration::days(3);
        let before = sink.connections.load(Ordering::SeqCst);
        notify(
            &app,
            &ivan,
            &d,
            NotificationKind::Overdue,
            None,
            Some(three_days_ago),
        )
        .await;
        let mentioned = NotificationKind::Mentioned;
        notify(&app, &jane, &d, mentioned, Some(manager.id), None).await;
        // Committing a notification queues its e-mail; it does not send it.
        assert_eq!(
            sink.connections.load(Ordering::SeqCst),
            before,
            "[{}]",
            app.backend
        );
        let queued = email_jobs(app.db()).await;
        assert_eq!(queued.len(), 2, "[{}]", app.backend);
        assert!(
            queued
                .iter()
                .all(|j| j.state == "pending" && j.attempts == 0)
        );

        app.pump().await;
        let mails = sink.mails();
        let ru = to(&mails, &ivan);
        assert_eq!(ru.len(), 1, "[{}] {mails:?}", app.backend);
        assert_eq!(
            ru[0].subject(),
            "СК1-001 «Трещина в стяжке»: срок истёк 3 дня назад"
        );
        let body = ru[0].body();
        assert!(
            body.starts_with("СК1-001 «Трещина в стяжке»: срок истёк 3 дня назад\n"),
            "{body}"
        );
        assert!(body.contains("Проект: ЖК Северный\n"), "{body}");
        assert!(body.contains("Статус: Новый\n"), "{body}");
        let link = format!("Открыть дефект: {PUBLIC}/defects/{}\n", d.id);
        assert!(body.contains(&link), "{body}");
        assert_eq!(
            ru[0].header("From").unwrap(),
            "Defects <noreply@example.com>"
        );
        let id = ru[0].header("Message-ID").unwrap();
        assert!(id.starts_with('<') && id.ends_with("@example.com>"), "{id}");
        let en = to(&mails, &jane);
        assert_eq!(en.len(), 1, "[{}] {mails:?}", app.backend);
        let line = format!(
            "СК1-001 “Трещина в стяжке”: Test {} mentioned you",
            manager.username
        );
        assert_eq!(en[0].subject(), line);
        assert!(
            en[0].body().contains("Open the defect: "),
            "{}",
            en[0].body()
        );
        let done = email_jobs(app.db()).await;
        assert!(
            done.iter().all(|j| j.state == "done" && j.attempts == 1),
            "{done:?}"
        );

        // Once: another pump, and a second insert of the same cause, send nothing.
        let again = NotificationKind::Overdue;
        assert_eq!(
            notify(&app, &ivan, &d, again, None, Some(three_days_ago)).await,
            None
        );
        app.pump().await;
        assert_eq!(to(&sink.mails(), &ivan).len(), 1, "[{}]", app.backend);
        assert_eq!(to(&sink.mails(), &jane).len(), 1, "[{}]", app.backend);
    }
}

#[tokio::test]
async fn no_mail_for_a_user_who_turned_it_off_or_was_deactivated() {
    let sink = Sink::start().await;
    for app in apps_with(with_smtp(sink.url())).await {
        let manager = app.actor(Role::Manager).await;
        let off_before = app.actor(Role::Engineer).await;
        let off_after = app.actor(Role::Engineer).await;
        let gone = app.actor(Role::Engineer).await;
        settings(&app, off_before.id, false, "en").await;
        let d = defect(&app, &manager, &[&off_before, &off_after, &gone]).await;
        let kind = NotificationKind::Assigned;
        for user in [&off_before, &off_after, &gone] {
            notify(&app, user, &d, kind, Some(manager.id), None).await;
        }
        // E-mail off when the notification came: no job at all.
        assert_eq!(email_jobs(app.db()).await.len(), 2, "[{}]", app.backend);
        // Turned off, or deactivated, after the job was queued: the job sends nothing.
        settings(&app, off_after.id, false, "en").await;
        deactivate(&app, gone.id).await;
        app.pump().await;
        assert!(
            sink.mails().is_empty(),
            "[{}] {:?}",
            app.backend,
            sink.mails()
        );
        let jobs = email_jobs(app.db()).await;
        assert!(jobs.iter().all(|j| j.state == "done"), "{jobs:?}");
    }
}

#[tokio::test]
async fn a_dead_server_is_retried_with_backoff_until_it_answers() {
    let port = dead_port();
    for app in apps_with(with_smtp(format!("smtp://127.0.0.1:{port}"))).await {
        let manager = app.actor(Role::Manager).await;
        let user = app.actor(Role::Engineer).await;
        let d = defect(&app, &manager, &[&user]).await;
        notify(&app, &user, &d, NotificationKind::DueSoon, None, None).await;
        let started = defect_control::time::now();
        app.pump().await;
        let job = email_jobs(app.db()).await.remove(0);
        assert_eq!(
            (job.state.as_str(), job.attempts),
            ("pending", 1),
            "[{}]",
            app.backend
        );
        assert!(job.last_error.is_some(), "{job:?}");
        // The first retry comes within 30 s, not at once.
        assert!(job.run_at > started, "{job:?}");
        assert!(job.run_at <= started + Duration::seconds(31), "{job:?}");
        // Not due yet: another pump leaves it alone.
        app.pump().await;
        assert_eq!(email_jobs(app.db()).await[0].attempts, 1);

        // The server comes up on that port; the job's time comes.
        let sink = Sink::on(TcpListener::bind(("127.0.0.1", port)).await.unwrap()).await;
        make_due(app.db()).await;
        app.pump().await;
        let job = email_jobs(app.db()).await.remove(0);
        assert_eq!(
            (job.state.as_str(), job.attempts),
            ("done", 2),
            "[{}]",
            app.backend
        );
        let mails = to(&sink.mails(), &user);
        assert_eq!(mails.len(), 1);
        assert_eq!(
            mails[0].subject(),
            "СК1-001 “Трещина в стяжке”: due tomorrow"
        );
        drop(sink);
    }
}

#[tokio::test]
async fn a_4xx_is_retried_and_a_5xx_fails() {
    let sink = Sink::start().await;
    for app in apps_with(with_smtp(sink.url())).await {
        let manager = app.actor(Role::Manager).await;
        let (a, b) = (
            app.actor(Role::Engineer).await,
            app.actor(Role::Engineer).await,
        );
        let d = defect(&app, &manager, &[&a, &b]).await;
        sink.refuse_next("451 4.3.0 try again later");
        notify(&app, &a, &d, NotificationKind::ReviewRequested, None, None).await;
        app.pump().await;
        let job = email_jobs(app.db()).await.remove(0);
        assert_eq!(
            (job.state.as_str(), job.attempts),
            ("pending", 1),
            "[{}]",
            app.backend
        );
        assert!(
            job.last_error.as_deref().unwrap().contains("451"),
            "{job:?}"
        );
        assert!(to(&sink.mails(), &a).is_empty());
        make_due(app.db()).await;
        app.pump().await;
        assert_eq!(to(&sink.mails(), &a).len(), 1, "[{}]", app.backend);
        assert_eq!(email_jobs(app.db()).await[0].state, "done");

        sink.refuse_next("550 5.7.1 sender refused");
        notify(&app, &b, &d, NotificationKind::ReviewRequested, None, None).await;
        app.pump().await;
        let job = email_jobs(app.db()).await.remove(1);
        assert_eq!(
            (job.state.as_str(), job.attempts),
            ("failed", 1),
            "[{}]",
            app.backend
        );
        assert!(
            job.last_error.as_deref().unwrap().contains("550"),
            "{job:?}"
        );
        make_due(app.db()).await;
        app.pump().await;
        assert!(to(&sink.mails(), &b).is_empty());
    }
}

#[tokio::test]
async fn a_restart_loses_no_pending_mail() {
    let port = dead_port();
    for app in apps_with(with_smtp(format!("smtp://127.0.0.1:{port}"))).await {
        let manager = app.actor(Role::Manager).await;
        let (a, b) = (
            app.actor(Role::Engineer).await,
            app.actor(Role::Engineer).await,
        );
        let d = defect(&app, &manager, &[&a, &b]).await;
        // One job tried once and waiting for its retry, one never tried (the process
        // stopped right after the commit).
        notify(
            &app,
            &a,
            &d,
            NotificationKind::Assigned,
            Some(manager.id),
            None,
        )
        .await;
        app.pump().await;
        notify(
            &app,
            &b,
            &d,
            NotificationKind::Assigned,
            Some(manager.id),
            None,
        )
        .await;

        // Another process on the same database, with a server that answers.
        let sink = Sink::start().await;
        let url = app.state.config.database_url.clone();
        let mut config = Config::for_database(&url);
        config.jwt_secret = app.state.config.jwt_secret.clone();
        with_smtp(sink.url())(&mut config);
        let conn = db::connect(&url, None).await.unwrap();
        let second = AppState::new(conn, config).unwrap();
        second.engine.pump().await.unwrap();
        assert_eq!(to(&sink.mails(), &b).len(), 1, "[{}]", app.backend);
        assert!(to(&sink.mails(), &a).is_empty(), "not due yet");
        make_due(&second.db).await;
        second.engine.pump().await.unwrap();
        second.engine.pump().await.unwrap();
        assert_eq!(to(&sink.mails(), &a).len(), 1, "[{}]", app.backend);
        assert_eq!(to(&sink.mails(), &b).len(), 1, "[{}]", app.backend);
        let jobs = email_jobs(&second.db).await;
        assert!(jobs.iter().all(|j| j.state == "done"), "{jobs:?}");
        second.db.close().await.ok();
    }
}
