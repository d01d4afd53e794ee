//! The engine's loop, one per process: consumer passes on every wake-up (a local
//! commit) and at least every [`POLL`]; ticks at their own interval; jobs as they come
//! due. Tests drive the same steps deterministically with [`Engine::pump`].
use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use sea_orm::DatabaseConnection;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::{Consumer, Pass, jobs};
use crate::{entities, error::AppResult};

/// The longest a committed event waits for its consumers when a wake-up was missed
/// (an event written through another instance).
pub const POLL: Duration = Duration::from_secs(1);
/// Finished jobs are kept this long (then swept).
pub const KEEP_FINISHED: Duration = Duration::from_secs(7 * 24 * 3600);

/// Periodic work that is not a journal consumer (the clock).
#[async_trait]
pub trait Tick: Send + Sync {
    fn name(&self) -> &'static str;
    fn every(&self) -> Duration;
    async fn run(&self, db: &DatabaseConnection) -> AppResult<()>;
}

/// Runs jobs of one kind.
#[async_trait]
pub trait Handler: Send + Sync {
    fn kind(&self) -> &'static str;
    /// How long one attempt may take before another instance may take the job.
    fn lease(&self) -> Duration;
    /// Jobs of this kind at once in this process.
    fn concurrency(&self) -> usize {
        4
    }
    /// One attempt; the outcome is recorded by the engine.
    async fn run(&self, db: &DatabaseConnection, job: &entities::jobs::Model) -> jobs::Outcome;
}

/// What the engine runs; built by the caller (`state.rs`) from the domain's parts.
#[derive(Default, Clone)]
pub struct Parts {
    pub consumers: Vec<Arc<dyn Consumer>>,
    pub ticks: Vec<Arc<dyn Tick>>,
    pub handlers: Vec<Arc<dyn Handler>>,
}

impl Parts {
    /// These parts and another area's: `state.rs` joins each area's `engine_parts`.
    pub fn with(mut self, other: Parts) -> Parts {
        self.consumers.extend(other.consumers);
        self.ticks.extend(other.ticks);
        self.handlers.extend(other.handlers);
        self
    }
}

pub struct Engine {
    db: DatabaseConnection,
    parts: Parts,
    /// Bumped after each local commit (`AppState::journal_wake`).
    wake: Arc<watch::Sender<u64>>,
    /// Woken when a job was queued in this process.
    jobs_queued: Notify,
    /// Bumped after each committed pass or tick that may have written something (a
    /// consumer handled events, a tick ran): the notification reader wakes on it.
    passes: watch::Sender<u64>,
}

impl Engine {
    pub fn new(db: DatabaseConnection, parts: Parts, wake: Arc<watch::Sender<u64>>) -> Self {
        Engine {
            db,
            parts,
            wake,
            jobs_queued: Notify::new(),
            passes: watch::Sender::new(0),
        }
    }

    /// Wakes after each pass that may have written (see `passes`).
    pub fn passes(&self) -> watch::Receiver<u64> {
        self.passes.subscribe()
    }

    fn passed(&self) {
        self.passes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Tells the job loop that work was queued here (it also polls).
    pub fn jobs_queued(&self) {
        self.jobs_queued.notify_waiters();
    }

    /// Every consumer until it is at the journal's end; then every tick once; then
    /// every due job, until none is left. For tests and one-off runs; returns the
    /// number of events handled and jobs run.
    pub async fn pump(&self) -> AppResult<(usize, usize)> {
        let events = self.consume().await?;
        for tick in &self.parts.ticks {
            tick.run(&self.db).await?;
            self.passed();
        }
        let events = events + self.consume().await?;
        let mut ran = 0;
        for handler in &self.parts.handlers {
            loop {
                let n = self.run_jobs(handler.clone()).await?;
                if n == 0 {
                    break;
                }
                ran += n;
            }
        }
        Ok((events, ran))
    }

    /// Passes of every consumer until each is at the end; a consumer held by another
    /// instance is retried shortly (it may have read before our event committed).
    async fn consume(&self) -> AppResult<usize> {
        let mut total = 0;
        for consumer in &self.parts.consumers {
            let mut busy = 0;
            loop {
                match super::pass(&self.db, consumer.as_ref()).await? {
                    Pass::Handled(0) => break,
                    Pass::Handled(n) => {
                        total += n;
                        self.passed();
                    }
                    Pass::Busy if busy < 20 => {
                        busy += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Pass::Busy => break,
                }
            }
        }
        Ok(total)
    }

    /// Claims and runs one round of due jobs of `handler`'s kind, at most its
    /// concurrency at once; returns how many ran.
    async fn run_jobs(&self, handler: Arc<dyn Handler>) -> AppResult<usize> {
        let claimed = jobs::claim(
            &self.db,
            handler.kind(),
            handler.lease(),
            handler.concurrency() as u64,
        )
        .await?;
        let n = claimed.len();
        let mut running = tokio::task::JoinSet::new();
        for job in claimed {
            let handler = handler.clone();
            let db = self.db.clone();
            running.spawn(async move {
                let outcome = handler.run(&db, &job).await;
                if let Err(e) = jobs::finish(&db, &job, outcome).await {
                    tracing::warn!(error = %e, job = job.id, kind = %job.kind, "recording a job's outcome failed");
                }
            });
        }
        while running.join_next().await.is_some() {}
        Ok(n)
    }

    /// Starts the loops; they end when `shutdown` is cancelled.
    pub fn start(self: &Arc<Self>, shutdown: CancellationToken) {
        let this = self.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let mut woken = this.wake.subscribe();
            loop {
                if let Err(e) = this.consume().await {
                    tracing::warn!(error = ?e, "a journal consumer failed; retrying");
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = woken.changed() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
            }
        });
        for tick in self.parts.ticks.clone() {
            let this = self.clone();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(tick.every());
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = every.tick() => {}
                    }
                    match tick.run(&this.db).await {
                        Ok(()) => this.passed(),
                        Err(e) => {
                            tracing::warn!(error = ?e, tick = tick.name(), "a periodic task failed");
                        }
                    }
                }
            });
        }
        for handler in self.parts.handlers.clone() {
            let this = self.clone();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                loop {
                    let ran = match this.run_jobs(handler.clone()).await {
                        Ok(n) => n,
                        Err(e) => {
                            tracing::warn!(error = ?e, kind = handler.kind(), "claiming jobs failed");
                            0
                        }
                    };
                    if ran > 0 {
                        continue;
                    }
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = this.jobs_queued.notified() => {}
                        _ = tokio::time::sleep(POLL) => {}
                    }
                }
            });
        }
        let this = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = every.tick() => {}
                }
                if let Err(e) = jobs::sweep(&this.db, KEEP_FINISHED).await {
                    tracing::warn!(error = %e, "sweeping finished jobs failed");
                }
            }
        });
    }
}
