use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{
    auth::password::HashPool,
    auth::service::{LoginGuard, Sessions, TokenTtl},
    auth::throttle::{Limits, LoginThrottle},
    auth::tokens::Keys,
    config::{Config, ConfigError},
    domain,
    engine::Engine,
    error::AppError,
    inbox_live::Inbox,
    live::Hub,
    storage::{LinkSigner, Storage},
};

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub keys: Arc<Keys>,
    pub throttle: Arc<LoginThrottle>,
    pub hasher: Arc<HashPool>,
    pub storage: Arc<Storage>,
    pub links: Arc<LinkSigner>,
    /// Bumped after each committed mutation: wakes live subscriptions, which then read
    /// the journal (a wake-up, not the payload).
    pub journal_wake: Arc<tokio::sync::watch::Sender<u64>>,
    /// The process's journal reader that live subscriptions join (`crate::live`).
    pub live: Arc<Hub>,
    /// The process's notification reader that inbox subscriptions join
    /// (`crate::inbox_live`); they count under `live`'s per-user cap.
    pub inbox: Arc<Inbox>,
    /// Cancelled when the server begins to shut down: open WebSockets close with 1001.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// `/ready`'s probe, one at a time (`http::health`).
    pub ready: Arc<ReadyProbe>,
    /// Bumped after each write of a document job in this process (its subscriptions).
    pub documents: Arc<domain::documents::jobs::watch::Wake>,
    /// The engine for work derived from the journal (notifications, clock, e-mail);
    /// `serve` starts its loops, tests drive it with `pump`.
    pub engine: Arc<Engine>,
}

/// One readiness probe at a time. `/ready` is anonymous, and its probe writes (SQLite
/// takes its one write lock for the rolled-back write; the storage check writes a file):
/// a client hammering it must not contend with real writes at its own rate. Callers
/// that arrive while a probe runs wait for it, then take the outcome of the next one to
/// start (which started after they asked, so it is as fresh as their request): probes
/// run one after another, never one per caller at once. A caller that arrives after the
/// last one ended probes anew, so a change of state shows in the next request.
#[derive(Default)]
pub struct ReadyProbe {
    last: tokio::sync::Mutex<Option<(std::time::Instant, Result<(), AppError>)>>,
    runs: std::sync::atomic::AtomicU64,
}

impl ReadyProbe {
    pub async fn outcome<F>(&self, probe: impl FnOnce() -> F) -> Result<(), AppError>
    where
        F: std::future::Future<Output = Result<(), AppError>>,
    {
        let asked = std::time::Instant::now();
        let mut last = self.last.lock().await;
        if let Some((started, outcome)) = last.as_ref()
            && *started >= asked
        {
            return outcome.clone();
        }
        let started = std::time::Instant::now();
        self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let outcome = probe().await;
        *last = Some((started, outcome.clone()));
        outcome
    }

    /// How many probes ran (evidence for the tests).
    pub fn runs(&self) -> u64 {
        self.runs.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl AppState {
    /// Fails when `STORAGE_URL` cannot be used.
    pub fn new(db: DatabaseConnection, config: Config) -> Result<Self, ConfigError> {
        let storage = Storage::from_url(&config.storage_url)?;
        let keys = match &config.jwt_secret {
            Some(secret) => Keys::new(secret.as_bytes()),
            None => {
                tracing::warn!(
                    "JWT_SECRET is not set: using a random per-process key. Tokens will not \
                     survive a restart. Set JWT_SECRET (32+ characters) for anything but a demo."
                );
                Keys::random()
            }
        };
        let throttle = LoginThrottle::new(Limits {
            per_user_address: config.login_max_failures,
            per_user: config.login_max_failures_per_user,
            per_address: config.login_max_failures_per_address,
            window: config.login_lockout,
        });
        let hasher = HashPool::new(config.password_hash_concurrency, config.password_hash_queue);
        let links = LinkSigner::new(keys.secret());
        let journal_wake = Arc::new(tokio::sync::watch::Sender::new(0));
        let live = Arc::new(Hub::new(
            db.clone(),
            journal_wake.clone(),
            &config.database_url,
            config.max_subscriptions_per_user,
        ));
        let storage = Arc::new(storage);
        let documents = Arc::new(domain::documents::jobs::watch::Wake::default());
        let engine = Arc::new(Engine::new(
            db.clone(),
            domain::notifications::engine_parts(domain::notifications::Setup {
                mailer: config
                    .smtp_url
                    .as_deref()
                    .map(|url| crate::mail::Mailer::new(url, &config.smtp_from).map(Arc::new))
                    .transpose()?,
                public_url: config.public_url.clone(),
                clock_interval: config.clock_interval,
            })
            .with(domain::webhooks::engine_parts(domain::webhooks::Setup {
                allow_private: config.webhook_allow_private,
                timeout: config.webhook_timeout,
            }))
            .with(domain::documents::engine_parts(domain::documents::Setup {
                storage: storage.clone(),
                concurrency: config.document_jobs,
                wake: documents.clone(),
            }))
            .with(domain::idempotency::engine_parts()),
            journal_wake.clone(),
        ));
        let inbox = Arc::new(Inbox::new(
            db.clone(),
            engine.passes(),
            &config.database_url,
        ));
        Ok(AppState {
            engine,
            inbox,
            db,
            config: Arc::new(config),
            keys: Arc::new(keys),
            throttle: Arc::new(throttle),
            hasher: Arc::new(hasher),
            storage,
            documents,
            links: Arc::new(links),
            journal_wake,
            live,
            shutdown: tokio_util::sync::CancellationToken::new(),
            ready: Arc::default(),
        })
    }

    /// The part of the state that sessions (tokens, viewer lookup) use.
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions {
            db: &self.db,
            keys: &self.keys,
            ttl: TokenTtl {
                access: self.config.access_token_ttl,
                refresh: self.config.refresh_token_ttl,
            },
        }
    }

    /// The part of the state that a password login uses on top of [`Self::sessions`].
    pub fn login_guard(&self) -> LoginGuard<'_> {
        LoginGuard {
            throttle: &self.throttle,
            hasher: &self.hasher,
        }
    }
}
