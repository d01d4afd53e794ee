use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use defect_control::{
    auth::Viewer,
    config::Config,
    db,
    entities::{enums::Role, projects as project_rows, stages},
    state::AppState,
};
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::builders::{self, ProjectBuilder, UserBuilder};

pub const PASSWORD: &str = "password123";
static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct TestApp {
    pub backend: &'static str,
    pub state: AppState,
    pub router: Router,
    /// SQL statements run through the app's connection (for N+1 tests).
    pub statements: Arc<AtomicUsize>,
    _dir: Option<tempfile::TempDir>,
    /// Last, so the app's pool goes first.
    _database: Option<DropDatabase>,
}

/// A test's own PostgreSQL database, dropped when the test's app goes away: at the
/// end of the test and while unwinding from a failed assertion, so a run leaves
/// nothing behind (only a killed process does; `.ci/run` drops those by pid).
pub struct DropDatabase {
    admin_url: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot wait on a future itself:
        // a thread with a runtime of its own does the work while this one waits.
        let done = std::thread::spawn(move || -> Result<(), String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let admin = sea_orm::Database::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                // FORCE ends the app's pooled connections; the pool may still open a new
                // one while it winds down, so a refused drop is tried again.
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let mut dropped = admin.execute_unprepared(&sql).await.map(|_| ());
                for _ in 0..20 {
                    if dropped.is_ok() {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    dropped = admin.execute_unprepared(&sql).await.map(|_| ());
                }
                admin.close().await.ok();
                dropped.map_err(|e| e.to_string())
            })
        })
        .join();
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("could not drop test database {}", self.name),
        }
    }
}

/// A user made for a test, with a ready access token.
#[derive(Clone, Debug)]
pub struct Actor {
    pub id: i32,
    pub username: String,
    pub role: Role,
    pub token: String,
}

impl Actor {
    pub fn viewer(&self) -> Viewer {
        Viewer {
            id: self.id,
            username: self.username.clone(),
            role: self.role,
            via: defect_control::auth::viewer::Via::Session,
        }
    }
    pub fn gid(&self) -> String {
        self.id.to_string()
    }
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// One fresh app per backend: SQLite always, PostgreSQL when TEST_DATABASE_URL is set.
pub async fn apps() -> Vec<TestApp> {
    apps_with(|_| {}).await
}

pub async fn apps_with(tweak: impl Fn(&mut Config)) -> Vec<TestApp> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    out.push(build("sqlite", &url, Some(dir), &tweak).await);
    if let Ok(admin_url) = std::env::var("TEST_DATABASE_URL")
        && !admin_url.is_empty()
    {
        let (url, database) = fresh_postgres(&admin_url).await;
        let mut app = build("postgres", &url, None, &tweak).await;
        app._database = Some(database);
        out.push(app);
    }
    out
}

async fn build(
    backend: &'static str,
    url: &str,
    dir: Option<tempfile::TempDir>,
    tweak: &impl Fn(&mut Config),
) -> TestApp {
    let mut conn = db::connect(url, Some(std::time::Duration::from_secs(29)))
        .await
        .expect("connect");
    db::migrate(&conn).await.expect("migrate");
    let statements = Arc::new(AtomicUsize::new(0));
    let counter = statements.clone();
    let show = std::env::var_os("SHOW_SQL").is_some();
    conn.set_metric_callback(move |info| {
        counter.fetch_add(1, Ordering::SeqCst);
        if show {
            eprintln!("SQL {}", info.statement);
        }
    });
    let mut config = Config::for_database(url);
    config.jwt_secret = Some("test-secret-test-secret-test-secret!".into());
    tweak(&mut config);
    let state = AppState::new(conn, config).expect("state");
    let router = defect_control::app(state.clone());
    TestApp {
        backend,
        state,
        router,
        statements,
        _dir: dir,
        _database: None,
    }
}

/// Creates `dct_<pid>_<n>` on the server of `admin_url` and returns its URL, with the
/// guard that drops it again.
pub async fn fresh_postgres(admin_url: &str) -> (String, DropDatabase) {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!("dct_{}_{}", std::process::id(), n);
    let admin = sea_orm::Database::connect(admin_url)
        .await
        .expect("connect TEST_DATABASE_URL");
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .expect("drop");
    admin
        // Byte-order collation, as on SQLite, so orderings can be checked exactly.
        .execute_unprepared(&format!(
            "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C'"
        ))
        .await
        .expect("create database");
    admin.close().await.ok();
    let guard = DropDatabase {
        admin_url: admin_url.to_owned(),
        name: name.clone(),
    };
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url, String::new()),
    };
    let base = &base[..base.rfind('/').expect("database URL has a path")];
    (format!("{base}/{name}{query}"), guard)
}

impl TestApp {
    /// Runs the engine (journal consumers, the clock, due jobs) until it has nothing
    /// left to do: what `serve`'s loops do in the background, made deterministic.
    pub async fn pump(&self) -> (usize, usize) {
        self.state.engine.pump().await.expect("engine pump")
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    /// A second app on this app's database (its own pool, engine and statement counter,
    /// the default configuration), as a second server instance would be; the database
    /// still goes with `self`, so drop the twin first.
    pub async fn twin(&self) -> TestApp {
        build(self.backend, &self.state.config.database_url, None, &|_| {}).await
    }

    /// [`Self::twin`] with `tweak` applied to its configuration.
    pub async fn twin_with(&self, tweak: impl Fn(&mut Config)) -> TestApp {
        build(self.backend, &self.state.config.database_url, None, &tweak).await
    }

    pub async fn request(&self, req: Request<Body>) -> Response {
        let res = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("router answers");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Response {
            status,
            headers,
            body,
        }
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.request(req.body(Body::from(body.to_string())).expect("request"))
            .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = Request::builder().method(Method::GET).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.request(req.body(Body::empty()).expect("request"))
            .await
    }

    /// A GraphQL request over POST /graphql; returns the whole response body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let res = self
            .post_json(
                "/graphql",
                token,
                json!({ "query": query, "variables": variables }),
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::OK,
            "[{}] {}",
            self.backend,
            res.body
        );
        res.body
    }

    /// Runs a GraphQL operation that must succeed; returns `data`.
    pub async fn ok(&self, actor: &Actor, query: &str, variables: Value) -> Value {
        let body = self.gql(Some(&actor.token), query, variables).await;
        assert!(
            body.get("errors").is_none(),
            "[{}] expected success, got {body}",
            self.backend
        );
        body["data"].clone()
    }

    /// Runs a GraphQL operation that must fail; returns the first error's code.
    pub async fn code(&self, token: Option<&str>, query: &str, variables: Value) -> String {
        let body = self.gql(token, query, variables).await;
        let err = &body["errors"][0];
        assert!(
            !err.is_null(),
            "[{}] expected an error, got {body}",
            self.backend
        );
        err["extensions"]["code"]
            .as_str()
            .unwrap_or("<none>")
            .to_owned()
    }

    /// A user of `role` with a fresh name and a session (see [`UserBuilder`]).
    pub async fn actor(&self, role: Role) -> Actor {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let username = format!("{}{}", format!("{role:?}").to_lowercase(), n);
        UserBuilder::new(role, username).create(self).await
    }

    /// An admin, a manager, an engineer who is a member of `project`, an engineer who
    /// is not, and an observer.
    pub async fn cast(&self) -> Cast {
        Cast {
            admin: self.actor(Role::Admin).await,
            manager: self.actor(Role::Manager).await,
            engineer: self.actor(Role::Engineer).await,
            outsider: self.actor(Role::Engineer).await,
            observer: self.actor(Role::Observer).await,
        }
    }

    pub async fn project(&self, owner: &Actor, title: &str) -> project_rows::Model {
        ProjectBuilder::new(owner, title).create(self).await
    }

    pub async fn add_member(&self, project: i32, user: i32) {
        builders::member(self, project, user).await
    }

    pub async fn stage(&self, project: i32, title: &str) -> stages::Model {
        builders::stage(self, project, title).await
    }

    /// Every row of the tables this issue writes, to prove a refused mutation changed nothing.
    /// Every row of every table, so "a refused mutation changed nothing" means nothing
    /// anywhere: the tables come from the database's catalogue (a new migration's table
    /// is in without a line here), each table's rows serialised by the database and sorted
    /// by that text (all columns). Only the migrations' bookkeeping is left out; on
    /// SQLite `sqlite_sequence` (AUTOINCREMENT high-water marks, transactional) is in,
    /// while PostgreSQL's sequences are not tables and move on a rolled-back insert too.
    pub async fn snapshot(&self) -> String {
        self.snapshot_except(&[]).await
    }

    /// [`Self::snapshot`] without the named tables, for a refusal that legitimately
    /// writes one (a refused login records its attempt); the caller says why.
    pub async fn snapshot_except(&self, skipped: &[&str]) -> String {
        let mut out = String::new();
        for table in self.tables().await {
            if skipped.contains(&table.as_str()) {
                continue;
            }
            out.push_str(&format!("{table}:\n"));
            for row in self.rows(&table).await {
                out.push_str(&format!("  {row}\n"));
            }
        }
        out
    }

    /// Every table of ours, by name.
    pub async fn tables(&self) -> Vec<String> {
        let sql = match self.db().get_database_backend() {
            DbBackend::Sqlite => {
                "SELECT name AS t FROM sqlite_master WHERE type = 'table' \
                 AND name <> 'seaql_migrations' AND name NOT LIKE 'sqlite_stat%' ORDER BY name"
            }
            _ => {
                "SELECT CAST(table_name AS TEXT) AS t FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                 AND table_name <> 'seaql_migrations' ORDER BY table_name"
            }
        };
        let tables = self.strings(sql).await;
        assert!(
            tables.len() >= 10,
            "the catalogue lists too few tables: {tables:?}"
        );
        tables
    }

    /// A table's rows as text, one per row, sorted.
    async fn rows(&self, table: &str) -> Vec<String> {
        let sql = match self.db().get_database_backend() {
            DbBackend::Sqlite => {
                let columns = self
                    .strings(&format!(
                        "SELECT name AS t FROM pragma_table_info('{table}') ORDER BY cid"
                    ))
                    .await;
                // `quote` spells every value (NULL, text, number, blob) unambiguously.
                let row = columns
                    .iter()
                    .map(|c| format!("'{c}=' || quote(\"{c}\")"))
                    .collect::<Vec<_>>()
                    .join(" || ' ' || ");
                format!("SELECT {row} AS t FROM \"{table}\" ORDER BY t")
            }
            _ => format!("SELECT CAST(row_to_json(r) AS TEXT) AS t FROM \"{table}\" r ORDER BY t"),
        };
        self.strings(&sql).await
    }

    async fn strings(&self, sql: &str) -> Vec<String> {
        let backend = self.db().get_database_backend();
        self.db()
            .query_all_raw(Statement::from_string(backend, sql.to_owned()))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|r| r.try_get::<String>("", "t").expect("t"))
            .collect()
    }

    pub async fn count(&self, table: &str) -> i64 {
        let backend = self.db().get_database_backend();
        let row = self
            .db()
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count")
            .expect("row");
        row.try_get::<i64>("", "n").expect("n")
    }
}

pub struct Cast {
    pub admin: Actor,
    pub manager: Actor,
    /// Made a member of the test's project by the test.
    pub engineer: Actor,
    /// An engineer who is not a member.
    pub outsider: Actor,
    pub observer: Actor,
}

impl Cast {
    pub fn all(&self) -> [&Actor; 5] {
        [
            &self.admin,
            &self.manager,
            &self.engineer,
            &self.outsider,
            &self.observer,
        ]
    }
}

/// The code of the first error, or "OK".
pub fn outcome(body: &Value) -> String {
    match body["errors"][0]["extensions"]["code"].as_str() {
        Some(c) => c.to_owned(),
        None if body.get("errors").is_some() => "<no code>".into(),
        None => "OK".into(),
    }
}
