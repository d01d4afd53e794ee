//! Live updates, per process: one reader of the journal fans each batch out to every
//! subscription in memory. See docs/ARCHITECTURE.md, "Live updates".
//!
//! - The journal is the source of truth; wake-ups carry no payload. The reader wakes on
//!   a local commit (`AppState::journal_wake`), on PostgreSQL on a `NOTIFY` from any
//!   instance (a dedicated `LISTEN` connection, reconnected with backoff), and every
//!   [`POLL`] anyway, so a lost notification only delays.
//! - Each wake-up costs this process one read of the journal (`id > last`, in batches),
//!   plus, when the batch is not empty and someone subscribes, one read of what the
//!   subscribers may see of it (`domain::defects::live::access`): O(1) queries per batch
//!   whatever the number of subscribers.
//! - The batch goes out on a bounded `tokio::sync::broadcast` (one copy in memory for
//!   everyone), with a place for what its subscriptions share to resolve its events
//!   ([`Batch::shared`]: the transport's loaders, so that a row an event needs is read
//!   once per batch, not once per subscription). A subscription that falls more than [`CAPACITY`] batches behind (a client
//!   that does not read) loses its place in the channel and catches up from the journal
//!   by itself, then rejoins: memory stays bounded and nothing is lost.
use std::{
    any::Any,
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use sea_orm::{DatabaseBackend, DatabaseConnection};
use tokio::sync::{OnceCell, broadcast, watch};

use crate::{
    caps::{KeyPlace, PerKey},
    domain::defects::{
        journal,
        live::{self, Access, Subscriber},
    },
    entities::defect_events,
};

/// The longest a committed event waits for a reader when every wake-up was lost (an
/// event written through another instance while its notification was lost).
pub const POLL: Duration = Duration::from_secs(1);
/// Events per read of the process's reader.
pub const TAIL_BATCH: u64 = 500;
/// Batches the channel keeps for the slowest subscription.
pub const CAPACITY: usize = 64;
/// The newest batches that keep what their subscriptions share ([`Batch::shared`]). A
/// subscription further behind resolves an older batch's events on its own, as it did
/// before the batch was shared: the rows loaded for a batch are not held in memory for
/// the whole channel on behalf of a client that does not read.
pub const SHARED_FOR: usize = 16;

/// One batch of the journal, as every subscription of this process receives it.
pub struct Batch {
    pub events: Vec<defect_events::Model>,
    pub access: Access,
    shared: Mutex<Shared>,
}

/// What a batch's subscriptions share.
enum Shared {
    Unmade,
    Made(Arc<dyn Any + Send + Sync>),
    /// The batch is more than [`SHARED_FOR`] batches old.
    Dropped,
}

impl Batch {
    fn new(events: Vec<defect_events::Model>, access: Access) -> Self {
        Batch {
            events,
            access,
            shared: Mutex::new(Shared::Unmade),
        }
    }

    /// What the subscriptions resolving this batch share (of a type this module does not
    /// know: the transport's loaders), made by the first that asks; `None` once the
    /// batch is [`SHARED_FOR`] batches old. The rows it loads are the same for every
    /// viewer (keyed by id, of events each subscription has already found visible);
    /// what a viewer may read of them is decided when each subscription resolves them.
    pub fn shared<T: Any + Send + Sync>(&self, make: impl FnOnce() -> T) -> Option<Arc<T>> {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        match &*shared {
            Shared::Dropped => None,
            Shared::Made(made) => made.clone().downcast().ok(),
            Shared::Unmade => {
                let made = Arc::new(make());
                *shared = Shared::Made(made.clone());
                Some(made)
            }
        }
    }

    fn drop_shared(&self) {
        *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = Shared::Dropped;
    }
}

/// The process's journal reader and its subscriptions.
pub struct Hub {
    db: DatabaseConnection,
    wake: Arc<watch::Sender<u64>>,
    /// Where to `LISTEN` (PostgreSQL only).
    listen_url: Option<String>,
    tx: broadcast::Sender<Arc<Batch>>,
    /// Subscribers now, with how many subscriptions each has.
    subscribers: Mutex<Subscribers>,
    /// Subscriptions one user may run in this process, over all its sockets.
    per_user: PerKey<i32>,
    /// Set once the reader has taken its starting point.
    started: OnceCell<()>,
    /// Subscriptions that fell behind the channel and caught up from the journal.
    lagged: AtomicU64,
    /// The batches sent last, newest at the back, whose shared part is kept.
    recent: Mutex<VecDeque<Weak<Batch>>>,
}

/// Who subscribes now: each subscriber's subscriptions.
#[derive(Default)]
struct Subscribers {
    by_session: HashMap<Subscriber, usize>,
}

/// A user runs as many subscriptions as it may already ([`Hub::join`]).
#[derive(Debug)]
pub struct Full {
    pub max: usize,
}

/// A subscription's place: the channel, and its entry among the subscribers (removed
/// when dropped).
pub struct Joined {
    pub rx: broadcast::Receiver<Arc<Batch>>,
    hub: Arc<Hub>,
    who: Subscriber,
    /// The user's place under the per-user cap, given back with the subscription.
    _user: KeyPlace<i32>,
}

impl Joined {
    pub fn who(&self) -> &Subscriber {
        &self.who
    }

    /// Notes that this subscription lost its place in the channel (it reads the journal
    /// for itself now).
    pub fn fell_behind(&self, missed: u64) {
        self.hub.lagged.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            missed,
            "live updates: a subscription fell behind; catching up from the journal"
        );
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        let mut subs = self
            .hub
            .subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = subs.by_session.get_mut(&self.who) {
            *n -= 1;
            if *n == 0 {
                subs.by_session.remove(&self.who);
            }
        }
    }
}

impl Hub {
    /// `per_user`: subscriptions one user may run in this process, over all its sockets.
    pub fn new(
        db: DatabaseConnection,
        wake: Arc<watch::Sender<u64>>,
        database_url: &str,
        per_user: usize,
    ) -> Self {
        let listen_url = (db.get_database_backend() == DatabaseBackend::Postgres)
            .then(|| database_url.to_owned());
        Hub {
            db,
            wake,
            listen_url,
            tx: broadcast::channel(CAPACITY).0,
            subscribers: Mutex::new(Subscribers::default()),
            per_user: PerKey::new(per_user),
            started: OnceCell::new(),
            lagged: AtomicU64::new(0),
            recent: Mutex::new(VecDeque::new()),
        }
    }

    /// Joins the channel as `who`. The reader (and listener) start with the first
    /// subscription; this returns once the reader has its starting point, so a
    /// subscription that reads the journal up to now after joining has no gap with what
    /// the channel brings next. Refused when `who`'s user runs as many subscriptions as
    /// it may already; the place is given back when the `Joined` is dropped, however the
    /// subscription ends.
    pub async fn join(self: &Arc<Self>, who: Subscriber) -> Result<Joined, Full> {
        self.started
            .get_or_init(|| async {
                let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
                tokio::spawn(read(Arc::downgrade(self), self.db.clone(), ready_tx));
                if let Some(url) = &self.listen_url {
                    tokio::spawn(listen(Arc::downgrade(self), url.clone()));
                }
                let _ = ready_rx.await;
            })
            .await;
        let user = self.place(who.user_id)?;
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        *subs.by_session.entry(who.clone()).or_default() += 1;
        drop(subs);
        Ok(Joined {
            rx: self.tx.subscribe(),
            hub: self.clone(),
            who,
            _user: user,
        })
    }

    /// Subscriptions on the channel now.
    pub fn joined(&self) -> usize {
        self.tx.receiver_count()
    }

    /// A place under the per-user cap for a live subscription of another kind
    /// (`Subscription.notifications`), so one user's subscriptions of every kind count
    /// together; given back when dropped.
    pub fn place(&self, user_id: i32) -> Result<KeyPlace<i32>, Full> {
        self.per_user.take(user_id).ok_or(Full {
            max: self.per_user.max(),
        })
    }

    /// How many times a subscription fell behind the channel (since the start).
    pub fn lagged(&self) -> u64 {
        self.lagged.load(Ordering::Relaxed)
    }

    fn subscribers(&self) -> Vec<Subscriber> {
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_session
            .keys()
            .cloned()
            .collect()
    }

    fn wake(&self) {
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// The process's reader: on each wake-up, the events after the last one it saw, in
/// batches, each sent once to every subscription with what each may see of it. Ends
/// when the hub is gone.
async fn read(hub: Weak<Hub>, db: DatabaseConnection, ready: tokio::sync::oneshot::Sender<()>) {
    let Some(mut wake) = hub.upgrade().map(|h| h.wake.subscribe()) else {
        return;
    };
    let mut last = loop {
        match live::newest(&db).await {
            Ok(id) => break id,
            Err(e) => {
                tracing::warn!(error = %e, "live updates: cannot read the journal; retrying");
                tokio::time::sleep(POLL).await;
            }
        }
    };
    let _ = ready.send(());
    loop {
        // Before reading, so a commit during the read wakes the next wait.
        wake.mark_unchanged();
        loop {
            let Some(hub) = hub.upgrade() else { return };
            match tail_once(&hub, &db, last).await {
                Ok(Some((next, full))) => {
                    last = next;
                    if full {
                        continue;
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "live updates: reading the journal failed"),
            }
            break;
        }
        tokio::select! {
            _ = wake.changed() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// One batch after `last`: sent out when anyone listens. Returns the new last id and
/// whether the batch was full (more may follow at once).
async fn tail_once(
    hub: &Hub,
    db: &DatabaseConnection,
    last: i32,
) -> crate::error::AppResult<Option<(i32, bool)>> {
    let events = live::tail(db, last, TAIL_BATCH).await?;
    let Some(newest) = events.last().map(|e| e.id) else {
        return Ok(None);
    };
    let full = events.len() as u64 == TAIL_BATCH;
    if hub.tx.receiver_count() > 0 {
        let access = live::access(db, &hub.subscribers(), &events).await?;
        let batch = Arc::new(Batch::new(events, access));
        let mut recent = hub.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.push_back(Arc::downgrade(&batch));
        while recent.len() > SHARED_FOR {
            if let Some(old) = recent.pop_front().and_then(|b| b.upgrade()) {
                old.drop_shared();
            }
        }
        drop(recent);
        // Fails only when the last subscription left meanwhile.
        let _ = hub.tx.send(batch);
    }
    Ok(Some((newest, full)))
}

/// PostgreSQL: `LISTEN` on a connection of its own; every notification (and every
/// reconnection, since notifications sent meanwhile are lost) wakes the reader.
async fn listen(hub: Weak<Hub>, url: String) {
    use sea_orm::sqlx::postgres::PgListener;
    let mut backoff = Duration::from_millis(500);
    loop {
        let connected = async {
            let mut l = PgListener::connect(&url).await?;
            l.listen(journal::CHANNEL).await?;
            Ok::<_, sea_orm::sqlx::Error>(l)
        }
        .await;
        match connected {
            Ok(mut listener) => {
                backoff = Duration::from_millis(500);
                let Some(h) = hub.upgrade() else { return };
                // Anything committed while not listening is read now.
                h.wake();
                drop(h);
                loop {
                    let got = listener.try_recv().await;
                    let Some(h) = hub.upgrade() else { return };
                    match got {
                        // A notification, or a lost connection that PgListener has
                        // re-established (whatever was sent meanwhile is lost): read.
                        Ok(_) => h.wake(),
                        Err(e) => {
                            tracing::warn!(error = %e, "live updates: LISTEN connection failed; reconnecting");
                            h.wake();
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, ?backoff, "live updates: cannot LISTEN; the reader polls every second meanwhile");
            }
        }
        if hub.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}
