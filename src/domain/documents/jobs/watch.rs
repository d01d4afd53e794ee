//! What `Subscription.documentJob` follows: the job's row, read again on each local
//! wake-up (a write of this process's runner) and at least every [`POLL`] (a job run
//! by another instance), yielded whenever it changed; a final state is yielded once,
//! then the stream ends.
use std::time::Duration;

use futures_util::{Stream, stream};
use sea_orm::{DatabaseConnection, EntityTrait};
use tokio::sync::watch;

use crate::{entities::document_jobs, error::AppResult};

/// The longest a change made by another instance waits to be seen.
pub const POLL: Duration = Duration::from_secs(1);

/// Bumped after each write of a document job in this process.
pub struct Wake(watch::Sender<u64>);

impl Default for Wake {
    fn default() -> Self {
        Wake(watch::Sender::new(0))
    }
}

impl Wake {
    pub fn bump(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// What a subscriber sees change.
fn same(a: &document_jobs::Model, b: &document_jobs::Model) -> bool {
    (
        a.status,
        a.progress,
        a.rows,
        &a.object_key,
        &a.error,
        a.updated_at,
    ) == (
        b.status,
        b.progress,
        b.rows,
        &b.object_key,
        &b.error,
        b.updated_at,
    )
}

struct Follow {
    db: DatabaseConnection,
    woken: watch::Receiver<u64>,
    last: Option<document_jobs::Model>,
    id: i64,
}

/// `job` now, then each change, ending after a final state (or when the row is gone).
/// Join `woken` before reading `job`, so no local change goes unnoticed.
pub fn changes(
    db: DatabaseConnection,
    woken: watch::Receiver<u64>,
    job: document_jobs::Model,
) -> impl Stream<Item = AppResult<document_jobs::Model>> + Send + 'static {
    let follow = Follow {
        db,
        woken,
        id: job.id,
        last: None,
    };
    stream::unfold(Some((follow, Some(job))), |state| async move {
        let (mut f, mut next) = state?;
        loop {
            if let Some(job) = next.take() {
                if f.last.as_ref().is_some_and(|l| same(l, &job)) {
                    // unchanged: wait below
                } else {
                    let end = job.status.is_final();
                    f.last = Some(job.clone());
                    return Some((Ok(job), (!end).then_some((f, None))));
                }
            }
            tokio::select! {
                woke = f.woken.changed() => {
                    if woke.is_err() {
                        tokio::time::sleep(POLL).await; // no local writer left: poll only
                    }
                }
                _ = tokio::time::sleep(POLL) => {}
            }
            match document_jobs::Entity::find_by_id(f.id).one(&f.db).await {
                Ok(Some(job)) => next = Some(job),
                Ok(None) => return None,
                Err(e) => return Some((Err(e.into()), None)),
            }
        }
    })
}
