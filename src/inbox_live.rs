//! `Subscription.notifications`, per process: one reader of the `notifications` table
//! fans each batch out to every inbox subscription in memory (the shape of
//! `crate::live::Hub`): a subscription keeps its own user's rows, and what each
//! subscriber may see of them now (session live, user active, defect visible) is read
//! once per batch for all the subscribers the batch has rows for
//! (`domain::defects::live::access_to_defects`: a few queries per batch, not two per
//! subscription).
//! See docs/ARCHITECTURE.md, "Live updates" → "Notifications".
//!
//! - The table is the source of truth; wake-ups carry no payload. The reader wakes after
//!   each engine pass of this process that may have written notifications
//!   (`Engine::passes`), on PostgreSQL on a `NOTIFY` on `notifications::CHANNEL` from any
//!   instance (a dedicated `LISTEN` connection, reconnected with backoff), and every
//!   [`POLL`] anyway.
//! - Ids commit in order (every insert runs while holding the engine's `notifications`
//!   position, `store.rs`), so reading `id > last` misses nothing.
//! - A subscription joins first, then reads for itself from its cursor until a read comes
//!   back short, then takes the channel's batches, skipping ids at or below the last it
//!   delivered: no gap, no duplicate. One that falls more than [`CAPACITY`] batches
//!   behind catches up from the table the same way.
use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use sea_orm::{DatabaseBackend, DatabaseConnection};
use tokio::sync::{OnceCell, broadcast, watch};

use crate::{
    caps::KeyPlace,
    domain::{
        defects::live::{Access, Subscriber, access_to_defects},
        notifications::{CHANNEL, inbox},
    },
    entities::notifications,
};

/// The longest a committed notification waits for the reader when every wake-up was lost.
pub const POLL: Duration = Duration::from_secs(1);
/// Notifications per read of the process's reader.
pub const TAIL_BATCH: u64 = 500;
/// Batches the channel keeps for the slowest subscription.
pub const CAPACITY: usize = 64;

/// One read of the table, as every inbox subscription of this process receives it.
pub struct Batch {
    /// The rows, by recipient, oldest first.
    pub by_user: HashMap<i32, Vec<notifications::Model>>,
    /// The newest id of the batch (of anyone).
    pub last: i32,
    /// What the subscribers with rows in the batch may see of them, read for all at once.
    pub access: Access,
}

/// The process's notification reader and its channel.
pub struct Inbox {
    db: DatabaseConnection,
    /// Bumped after each engine pass of this process that may have written.
    passes: watch::Receiver<u64>,
    /// Bumped by the `LISTEN` connection.
    wake: watch::Sender<u64>,
    listen_url: Option<String>,
    tx: broadcast::Sender<Arc<Batch>>,
    started: OnceCell<()>,
    lagged: AtomicU64,
    /// Subscribers now, with how many subscriptions each has.
    subscribers: Mutex<HashMap<Subscriber, usize>>,
}

/// A subscription's place in the channel, and its user's place under the per-user
/// subscription cap (both given back when dropped, however the subscription ends).
pub struct Joined {
    pub rx: broadcast::Receiver<Arc<Batch>>,
    inbox: Arc<Inbox>,
    who: Subscriber,
    _user: KeyPlace<i32>,
}

impl Drop for Joined {
    fn drop(&mut self) {
        let mut subs = self
            .inbox
            .subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = subs.get_mut(&self.who) {
            *n -= 1;
            if *n == 0 {
                subs.remove(&self.who);
            }
        }
    }
}

impl Joined {
    /// Whom this subscription delivers to.
    pub fn who(&self) -> &Subscriber {
        &self.who
    }

    /// Notes that this subscription lost its place in the channel (it reads the table
    /// for itself now).
    pub fn fell_behind(&self, missed: u64) {
        self.inbox.lagged.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            missed,
            "notifications: a subscription fell behind; catching up from the table"
        );
    }
}

impl Inbox {
    /// `passes`: `Engine::passes()` of this process.
    pub fn new(db: DatabaseConnection, passes: watch::Receiver<u64>, database_url: &str) -> Self {
        let listen_url = (db.get_database_backend() == DatabaseBackend::Postgres)
            .then(|| database_url.to_owned());
        Inbox {
            db,
            passes,
            wake: watch::Sender::new(0),
            listen_url,
            tx: broadcast::channel(CAPACITY).0,
            started: OnceCell::new(),
            lagged: AtomicU64::new(0),
            subscribers: Mutex::default(),
        }
    }

    /// Joins the channel. The reader (and listener) start with the first subscription;
    /// this returns once the reader has its starting point, so a subscription that reads
    /// the table up to now after joining has no gap with what the channel brings next.
    /// `who`: the subscription's user and session (its token's); `user`: the place under
    /// the per-user cap the caller took (`live::Hub::place`: one count for every kind of
    /// live subscription), held as long as the `Joined`.
    pub async fn join(self: &Arc<Self>, who: Subscriber, user: KeyPlace<i32>) -> Joined {
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
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        *subs.entry(who.clone()).or_default() += 1;
        drop(subs);
        Joined {
            rx: self.tx.subscribe(),
            inbox: self.clone(),
            who,
            _user: user,
        }
    }

    /// Subscriptions on the channel now.
    pub fn joined(&self) -> usize {
        self.tx.receiver_count()
    }

    /// How many times a subscription fell behind the channel (since the start).
    pub fn lagged(&self) -> u64 {
        self.lagged.load(Ordering::Relaxed)
    }

    fn wake(&self) {
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The subscribers of these users now.
    fn subscribers_of(&self, users: &HashSet<i32>) -> Vec<Subscriber> {
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .filter(|s| users.contains(&s.user_id))
            .cloned()
            .collect()
    }
}

/// The process's reader: on each wake-up, the notifications after the last one it saw,
/// in batches, each sent once to every subscription. Ends when the inbox is gone.
async fn read(inbox: Weak<Inbox>, db: DatabaseConnection, ready: tokio::sync::oneshot::Sender<()>) {
    let Some((mut passes, mut wake)) = inbox
        .upgrade()
        .map(|i| (i.passes.clone(), i.wake.subscribe()))
    else {
        return;
    };
    let mut last = loop {
        match inbox::newest(&db).await {
            Ok(id) => break id,
            Err(e) => {
                tracing::warn!(error = %e, "notifications: cannot read the table; retrying");
                tokio::time::sleep(POLL).await;
            }
        }
    };
    let _ = ready.send(());
    loop {
        // Before reading, so a write during the read wakes the next wait.
        passes.mark_unchanged();
        wake.mark_unchanged();
        loop {
            let Some(inbox) = inbox.upgrade() else { return };
            match inbox::tail(&db, last, TAIL_BATCH).await {
                Ok(rows) => {
                    let Some(newest) = rows.last().map(|n| n.id) else {
                        break;
                    };
                    let full = rows.len() as u64 == TAIL_BATCH;
                    last = newest;
                    if inbox.tx.receiver_count() > 0 {
                        let users: HashSet<i32> = rows.iter().map(|n| n.user_id).collect();
                        let who = inbox.subscribers_of(&users);
                        let listening: HashSet<i32> = who.iter().map(|s| s.user_id).collect();
                        let defects = rows
                            .iter()
                            .filter(|n| listening.contains(&n.user_id))
                            .map(|n| n.defect_id)
                            .collect();
                        // A failed read leaves the batch unchecked: its subscribers read it
                        // for themselves (nothing is lost).
                        let access = match access_to_defects(&db, &who, defects).await {
                            Ok(a) => a,
                            Err(e) => {
                                tracing::warn!(error = %e, "notifications: reading the subscribers' rights failed");
                                Access::default()
                            }
                        };
                        let mut by_user: HashMap<i32, Vec<notifications::Model>> = HashMap::new();
                        for n in rows {
                            by_user.entry(n.user_id).or_default().push(n);
                        }
                        // Fails only when the last subscription left meanwhile.
                        let _ = inbox.tx.send(Arc::new(Batch {
                            by_user,
                            last,
                            access,
                        }));
                    }
                    if !full {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "notifications: reading the table failed");
                    break;
                }
            }
        }
        tokio::select! {
            r = passes.changed() => {
                // The engine is gone (the state is being dropped): poll only.
                if r.is_err() {
                    tokio::time::sleep(POLL).await;
                }
            }
            _ = wake.changed() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// PostgreSQL: `LISTEN` on a connection of its own; every notification (and every
/// reconnection, since notifications sent meanwhile are lost) wakes the reader.
async fn listen(inbox: Weak<Inbox>, url: String) {
    use sea_orm::sqlx::postgres::PgListener;
    let mut backoff = Duration::from_millis(500);
    loop {
        let connected = async {
            let mut l = PgListener::connect(&url).await?;
            l.listen(CHANNEL).await?;
            Ok::<_, sea_orm::sqlx::Error>(l)
        }
        .await;
        match connected {
            Ok(mut listener) => {
                backoff = Duration::from_millis(500);
                let Some(i) = inbox.upgrade() else { return };
                // Anything committed while not listening is read now.
                i.wake();
                drop(i);
                loop {
                    let got = listener.try_recv().await;
                    let Some(i) = inbox.upgrade() else { return };
                    i.wake();
                    if let Err(e) = got {
                        tracing::warn!(error = %e, "notifications: LISTEN connection failed; reconnecting");
                        break;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, ?backoff, "notifications: cannot LISTEN; the reader polls every second meanwhile");
            }
        }
        if inbox.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}
