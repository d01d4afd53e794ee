//! One `Config`, read once from the environment and validated at boot.
use std::{net::SocketAddr, time::Duration};

use tokio::sync::Semaphore;

/// A configuration value that could not be used; the message names the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration error in {key}: {message}")]
pub struct ConfigError {
    pub key: &'static str,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

#[derive(Clone)]
pub struct Config {
    pub app_env: AppEnv,
    pub database_url: String,
    pub bind_addr: SocketAddr,
    /// `None` when `JWT_SECRET` is unset: a random per-process key is generated.
    pub jwt_secret: Option<String>,
    pub storage_url: String,
    pub max_upload_bytes: u64,
    /// Largest JSON body of `POST /graphql` (multipart uploads have their own limit).
    pub max_json_body_bytes: u64,
    /// Largest answer kept for replay under an `Idempotency-Key`
    /// (`IDEMPOTENCY_MAX_ANSWER_BYTES`; see `domain::idempotency`).
    pub idempotency_max_answer_bytes: usize,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub cors_origins: Vec<String>,
    pub login_max_failures: u32,
    pub login_lockout: Duration,
    /// Failed logins for one username from all addresses together (see `auth::throttle`).
    pub login_max_failures_per_user: u32,
    /// Failed logins from one client address, whatever the usernames.
    pub login_max_failures_per_address: u32,
    /// argon2 hashes at once (0: one per core) and how many may wait for a slot.
    pub password_hash_concurrency: usize,
    pub password_hash_queue: usize,
    /// Peers whose `Forwarded`/`X-Forwarded-For` headers name the real client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The one header those proxies write the client's address into (`TRUSTED_PROXY_HEADER`).
    pub trusted_proxy_header: ProxyHeader,
    pub graphiql: bool,
    /// Swagger UI for the REST shim on `GET /api/docs/` (`API_DOCS`).
    pub api_docs: bool,
    pub introspection: bool,
    /// The API's public origin (e.g. `https://defects.example.com`) for absolute
    /// attachment links; unset: taken from each request's `Host` header.
    pub public_url: Option<String>,
    /// A request that has produced no response by then answers 503.
    pub request_timeout: Duration,
    /// After SIGTERM/Ctrl-C, how long in-flight requests may take to finish.
    pub shutdown_grace: Duration,
    /// How long a connection may take to deliver a complete request head, counted from
    /// its accept or from its previous response: bounds slow-header clients and idle
    /// keep-alive sockets alike.
    pub header_read_timeout: Duration,
    /// Open connections at most; more are answered 503 and closed.
    pub max_connections: usize,
    /// Open connections from one TCP peer at most (peers in `trusted_proxies` are not
    /// counted: every client behind a proxy arrives from it); more are answered 503.
    pub max_connections_per_address: usize,
    /// Connections WebSockets may never take: an upgrade that would leave fewer than
    /// this many of `max_connections` for plain HTTP answers 503.
    pub ws_reserved_connections: usize,
    /// Open WebSockets per user (counted from `connection_init`) and per client address.
    pub ws_max_per_user: usize,
    pub ws_max_per_address: usize,
    /// A WebSocket that has received nothing for `ws_ping_interval` is pinged; one that
    /// has received nothing (not even a pong) for `ws_idle_timeout` is closed.
    pub ws_ping_interval: Duration,
    pub ws_idle_timeout: Duration,
    /// Live subscriptions one user may run in this process, over all its sockets; more
    /// are refused with RATE_LIMITED.
    pub max_subscriptions_per_user: usize,
    /// How often the notification clock checks deadlines (`CLOCK_INTERVAL_SECS`, ≥ 1).
    pub clock_interval: Duration,
    /// Document jobs this process runs at once (`DOCUMENT_JOBS`, ≥ 1).
    pub document_jobs: usize,
    /// `smtp://host:port`, `smtps://user:pass@host` (`SMTP_URL`); None: no e-mail.
    pub smtp_url: Option<String>,
    /// The sender of notification e-mails (`SMTP_FROM`).
    pub smtp_from: String,
    /// Webhooks may reach loopback and private addresses (`WEBHOOK_ALLOW_PRIVATE`).
    pub webhook_allow_private: bool,
    /// One webhook attempt's time limit (`WEBHOOK_TIMEOUT_MS`, 1–60,000; default 5,000).
    pub webhook_timeout: Duration,
    /// Defects `GET /api/reports/handover.pdf` renders while the caller waits
    /// (`HANDOVER_SYNC_MAX`); more is refused, pointing to `requestDocument`.
    pub handover_sync_max: u64,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("app_env", &self.app_env)
            .field("bind_addr", &self.bind_addr)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<set>"))
            .field("storage_url", &self.storage_url)
            .finish_non_exhaustive()
    }
}

/// Which header a `TRUSTED_PROXIES` peer writes the client's address into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProxyHeader {
    /// `X-Forwarded-For`, appended to by each proxy (nginx's
    /// `$proxy_add_x_forwarded_for`, HAProxy's `option forwardfor`, Traefik, Caddy,
    /// cloud load balancers).
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239), for a proxy configured to append it (HAProxy's
    /// `option forwarded`, Envoy, nginx with an explicit `proxy_set_header Forwarded`).
    Forwarded,
}

impl ProxyHeader {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Some(ProxyHeader::XForwardedFor),
            "forwarded" => Some(ProxyHeader::Forwarded),
            _ => None,
        }
    }
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/defect-control.db?mode=rwc";

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads every key through `get`, so tests can validate without touching the
    /// process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let val = trimmed(get);

        let app_env = match val("APP_ENV").as_deref() {
            None | Some("development") | Some("dev") | Some("test") => AppEnv::Development,
            Some("production") | Some("prod") => AppEnv::Production,
            Some(other) => {
                return Err(err(
                    "APP_ENV",
                    format!("unknown environment {other:?} (development|production)"),
                ));
            }
        };
        let database_url = val("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(err(
                "DATABASE_URL",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        let bind_addr = val("BIND_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8000".into())
            .parse()
            .map_err(|_| err("BIND_ADDR", "expected host:port, e.g. 127.0.0.1:8000"))?;
        let jwt_secret = val("JWT_SECRET");
        match (&jwt_secret, &app_env) {
            (None, AppEnv::Production) => {
                return Err(err("JWT_SECRET", "must be set when APP_ENV=production"));
            }
            (Some(s), _) if s.len() < 32 => {
                return Err(err("JWT_SECRET", "must be at least 32 characters"));
            }
            _ => {}
        }
        let storage_url = val("STORAGE_URL").unwrap_or_else(|| "./data/media".into());
        let max_upload_bytes = number(&val, "MAX_UPLOAD_BYTES", 20 * 1024 * 1024)?;
        if max_upload_bytes == 0 {
            return Err(err("MAX_UPLOAD_BYTES", "must be positive"));
        }
        let max_json_body_bytes = number(&val, "MAX_JSON_BODY_BYTES", 1024 * 1024)?;
        if max_json_body_bytes == 0 {
            return Err(err("MAX_JSON_BODY_BYTES", "must be positive"));
        }
        let idempotency_max_answer_bytes =
            number(&val, "IDEMPOTENCY_MAX_ANSWER_BYTES", 1024 * 1024)?;
        let idempotency_max_answer_bytes = usize::try_from(idempotency_max_answer_bytes)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| err("IDEMPOTENCY_MAX_ANSWER_BYTES", "must be positive"))?;
        let access_token_ttl = Duration::from_secs(number(&val, "ACCESS_TOKEN_TTL", 900)?);
        let refresh_token_ttl =
            Duration::from_secs(number(&val, "REFRESH_TOKEN_TTL", 7 * 24 * 3600)?);
        if access_token_ttl.is_zero() {
            return Err(err("ACCESS_TOKEN_TTL", "must be positive"));
        }
        if refresh_token_ttl <= access_token_ttl {
            return Err(err(
                "REFRESH_TOKEN_TTL",
                "must be longer than ACCESS_TOKEN_TTL",
            ));
        }
        let cors_origins = val("CORS_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for origin in &cors_origins {
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(err(
                    "CORS_ORIGINS",
                    format!("{origin:?} is not an http(s) origin"),
                ));
            }
        }
        let login_max_failures = number(&val, "LOGIN_MAX_FAILURES", 5)?;
        let login_max_failures = u32::try_from(login_max_failures)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| err("LOGIN_MAX_FAILURES", "must be between 1 and 4294967295"))?;
        let login_lockout = Duration::from_secs(number(&val, "LOGIN_LOCKOUT_SECS", 300)?);
        if login_lockout.is_zero() {
            return Err(err("LOGIN_LOCKOUT_SECS", "must be positive"));
        }
        let login_max_failures_per_user = positive_u32(&val, "LOGIN_MAX_FAILURES_PER_USER", 50)?;
        let login_max_failures_per_address =
            positive_u32(&val, "LOGIN_MAX_FAILURES_PER_ADDRESS", 20)?;
        let password_hash_concurrency =
            usize::try_from(number(&val, "PASSWORD_HASH_CONCURRENCY", 0)?)
                .map_err(|_| err("PASSWORD_HASH_CONCURRENCY", "too large"))?;
        let password_hash_queue = usize::try_from(number(&val, "PASSWORD_HASH_QUEUE", 8)?)
            .map_err(|_| err("PASSWORD_HASH_QUEUE", "too large"))?;
        let trusted_proxies = val("TRUSTED_PROXIES")
            .map(|v| parse_networks(&v))
            .transpose()
            .map_err(|m| err("TRUSTED_PROXIES", m))?
            .unwrap_or_default();
        let trusted_proxy_header = match val("TRUSTED_PROXY_HEADER") {
            None => Default::default(),
            Some(v) => ProxyHeader::parse(&v).ok_or_else(|| {
                err(
                    "TRUSTED_PROXY_HEADER",
                    "x-forwarded-for or forwarded: the header your proxy appends",
                )
            })?,
        };
        let public_url = val("PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned());
        if public_url.is_none() && matches!(app_env, AppEnv::Production) {
            return Err(err(
                "PUBLIC_URL",
                "must be set when APP_ENV=production (signed links would take their origin from the request's Host header)",
            ));
        }
        if let Some(u) = &public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(err(
                "PUBLIC_URL",
                "must be an http(s) origin, e.g. https://defects.example.com",
            ));
        }
        let request_timeout = Duration::from_secs(number(&val, "REQUEST_TIMEOUT_SECS", 30)?);
        if request_timeout < Duration::from_secs(2) {
            return Err(err("REQUEST_TIMEOUT_SECS", "must be at least 2"));
        }
        let shutdown_grace = Duration::from_secs(number(&val, "SHUTDOWN_GRACE_SECS", 20)?);
        let header_read_timeout =
            Duration::from_secs(number(&val, "HEADER_READ_TIMEOUT_SECS", 10)?);
        if header_read_timeout.is_zero() {
            return Err(err("HEADER_READ_TIMEOUT_SECS", "must be positive"));
        }
        let max_connections = usize::try_from(number(&val, "MAX_CONNECTIONS", 512)?)
            .ok()
            .filter(|n| (1..=Semaphore::MAX_PERMITS).contains(n))
            .ok_or_else(|| err("MAX_CONNECTIONS", "must be a positive number"))?;
        let max_connections_per_address = positive_usize(&val, "MAX_CONNECTIONS_PER_ADDRESS", 128)?;
        let ws_reserved_connections = match val("WS_RESERVED_CONNECTIONS") {
            // A quarter of a small cap, so the default never refuses to boot.
            None => (max_connections / 4).min(64),
            Some(_) => usize::try_from(number(&val, "WS_RESERVED_CONNECTIONS", 0)?)
                .ok()
                .filter(|n| *n < max_connections)
                .ok_or_else(|| {
                    err(
                        "WS_RESERVED_CONNECTIONS",
                        "must be less than MAX_CONNECTIONS",
                    )
                })?,
        };
        let ws_max_per_user = positive_usize(&val, "WS_MAX_PER_USER", 64)?;
        let ws_max_per_address = positive_usize(&val, "WS_MAX_PER_ADDRESS", 64)?;
        if ws_max_per_address >= max_connections_per_address {
            return Err(err(
                "WS_MAX_PER_ADDRESS",
                "must be less than MAX_CONNECTIONS_PER_ADDRESS (an address at its WebSocket cap still needs HTTP)",
            ));
        }
        let ws_ping_interval = Duration::from_secs(number(&val, "WS_PING_INTERVAL_SECS", 30)?);
        if ws_ping_interval.is_zero() {
            return Err(err("WS_PING_INTERVAL_SECS", "must be positive"));
        }
        let ws_idle_timeout = Duration::from_secs(number(&val, "WS_IDLE_TIMEOUT_SECS", 75)?);
        if ws_idle_timeout <= ws_ping_interval {
            return Err(err(
                "WS_IDLE_TIMEOUT_SECS",
                "must be longer than WS_PING_INTERVAL_SECS",
            ));
        }
        let max_subscriptions_per_user =
            usize::try_from(number(&val, "MAX_SUBSCRIPTIONS_PER_USER", 64)?)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| err("MAX_SUBSCRIPTIONS_PER_USER", "must be a positive number"))?;
        let graphiql = boolean(&val, "GRAPHIQL", true)?;
        let api_docs = boolean(&val, "API_DOCS", true)?;
        let introspection = boolean(&val, "INTROSPECTION", true)?;
        let clock_interval = Duration::from_secs(number(&val, "CLOCK_INTERVAL_SECS", 60)?);
        if clock_interval.is_zero() {
            return Err(err("CLOCK_INTERVAL_SECS", "must be at least 1"));
        }
        let document_jobs = usize::try_from(number(&val, "DOCUMENT_JOBS", 1)?)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| err("DOCUMENT_JOBS", "must be a positive number"))?;
        let (smtp_url, smtp_from) = smtp(&val)?;
        let webhook_allow_private = boolean(&val, "WEBHOOK_ALLOW_PRIVATE", false)?;
        let webhook_timeout = Duration::from_millis(number(&val, "WEBHOOK_TIMEOUT_MS", 5000)?);
        if webhook_timeout.is_zero() || webhook_timeout > Duration::from_secs(60) {
            return Err(err("WEBHOOK_TIMEOUT_MS", "must be between 1 and 60000"));
        }
        let handover_sync_max = number(&val, "HANDOVER_SYNC_MAX", 300)?;
        Ok(Config {
            webhook_allow_private,
            webhook_timeout,
            handover_sync_max,
            clock_interval,
            document_jobs,
            smtp_url,
            smtp_from,
            app_env,
            database_url,
            bind_addr,
            jwt_secret,
            storage_url,
            max_upload_bytes,
            max_json_body_bytes,
            idempotency_max_answer_bytes,
            access_token_ttl,
            refresh_token_ttl,
            cors_origins,
            login_max_failures,
            login_lockout,
            login_max_failures_per_user,
            login_max_failures_per_address,
            password_hash_concurrency,
            password_hash_queue,
            trusted_proxies,
            trusted_proxy_header,
            graphiql,
            api_docs,
            introspection,
            public_url,
            request_timeout,
            shutdown_grace,
            header_read_timeout,
            max_connections,
            max_connections_per_address,
            ws_reserved_connections,
            ws_max_per_user,
            ws_max_per_address,
            ws_ping_interval,
            ws_idle_timeout,
            max_subscriptions_per_user,
        })
    }

    /// SQL statements are cut off before the request timeout, so a slow query cannot
    /// hold a connection past the request that wanted it (PostgreSQL).
    pub fn statement_timeout(&self) -> Duration {
        self.request_timeout - Duration::from_secs(1)
    }

    /// A configuration for tests and tools: development defaults with the given database.
    pub fn for_database(database_url: &str) -> Self {
        let url = database_url.to_owned();
        let mut config = Self::from_lookup(|k| (k == "DATABASE_URL").then(|| url.clone()))
            .expect("defaults are valid");
        config.storage_url = "memory://".into();
        config
    }
}

pub mod logging;
mod values;
use values::{boolean, err, number, parse_networks, positive_u32, positive_usize, smtp, trimmed};

#[cfg(test)]
mod tests;
