//! The one engine for work derived from the journal (docs/ARCHITECTURE.md, "Work
//! derived from the journal"). Two shapes of work, one way to claim each:
//!
//! - **Consumers** ([`Consumer`]) read the journal in order from a persisted position
//!   (`engine_positions`, one row per purpose: `notifications`, `clock`, next webhooks).
//!   A pass claims the consumer's row (`SELECT … FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL: an instance that finds it taken leaves the pass to the holder), reads
//!   the events after the position, does its writes and advances the position **in the
//!   same transaction**. A crash before the commit rolls everything back and the next
//!   pass repeats it; after the commit nothing is repeated. Unique keys on what a
//!   consumer writes make even a repeat harmless. The journal's ids commit in order
//!   (`journal::record`'s advisory lock), so `id > position` misses nothing.
//! - **Jobs** ([`jobs`]) are work with a side effect outside the database (an e-mail, a
//!   webhook POST, a rendered document): a row claimed under a lease with `FOR UPDATE
//!   SKIP LOCKED`, retried with backoff; a dead instance's lease runs out and another
//!   instance takes the job. At least once: the side effect may repeat after a crash
//!   between doing it and recording it, never be lost.
//!
//! SQLite is one process: the same statements without `SKIP LOCKED`, serialised by its
//! one writer and by the runner's single loop.
pub mod jobs;
mod runner;

pub use runner::{Engine, Handler, Parts, Tick};

use async_trait::async_trait;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};

use crate::{
    entities::defect_events,
    error::{AppError, AppResult},
};

/// Events a consumer handles per pass (one transaction).
pub const BATCH: u64 = 500;

/// A purpose that derives work from the journal.
#[async_trait]
pub trait Consumer: Send + Sync {
    /// Its row in `engine_positions` (created at its first pass at the journal's end).
    fn name(&self) -> &'static str;
    /// Does the writes for `events` (in id order) inside the pass's transaction.
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        events: &[defect_events::Model],
    ) -> AppResult<()>;
}

/// A consumer's position, claimed: the transaction holds its row until commit.
pub struct Claim {
    pub txn: DatabaseTransaction,
    pub position: i64,
    name: &'static str,
    /// This claim created the consumer's row (it must be committed to persist).
    created: bool,
}

impl Claim {
    /// Stores `position` and commits everything done in the claim's transaction.
    pub async fn commit(self, position: i64) -> AppResult<()> {
        if position != self.position {
            let stmt = Statement::from_sql_and_values(
                self.txn.get_database_backend(),
                sql(
                    self.txn.get_database_backend(),
                    "UPDATE engine_positions SET position = $1, updated_at = $2 WHERE consumer = $3",
                ),
                [position.into(), crate::time::now().into(), self.name.into()],
            );
            self.txn.execute_raw(stmt).await?;
        }
        self.txn.commit().await?;
        Ok(())
    }
}

/// The placeholders of a multi-row `VALUES` list, `($1, $2), ($3, $4)` on PostgreSQL and
/// `(?, ?), (?, ?)` on SQLite: `rows` rows of `cols` values each, bound in row order.
pub fn rows_of(backend: DatabaseBackend, rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            match backend {
                DatabaseBackend::Postgres => out.push_str(&format!("${}", r * cols + c + 1)),
                _ => out.push('?'),
            }
        }
        out.push(')');
    }
    out
}

/// `$n` placeholders for PostgreSQL, `?` for SQLite.
pub(crate) fn sql(backend: DatabaseBackend, text: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => text.to_owned(),
        _ => {
            let mut out = String::with_capacity(text.len());
            let mut chars = text.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                    while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                        chars.next();
                    }
                    out.push('?');
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

/// Claims `name`'s position, or `None` when another instance holds it now (it is doing
/// the pass). A consumer seen for the first time starts at the journal's end.
pub async fn claim(db: &DatabaseConnection, name: &'static str) -> AppResult<Option<Claim>> {
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    let lock = match backend {
        DatabaseBackend::Postgres => " FOR UPDATE SKIP LOCKED",
        _ => {
            // SQLite: take the one write lock first (waiting out the busy timeout). A
            // transaction that reads first and writes later fails at once with
            // SQLITE_BUSY_SNAPSHOT when another connection wrote in between.
            let take = Statement::from_sql_and_values(
                backend,
                "UPDATE engine_positions SET position = position WHERE consumer = ?",
                [name.into()],
            );
            txn.execute_raw(take).await?;
            ""
        }
    };
    let read = Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            &format!("SELECT position FROM engine_positions WHERE consumer = $1{lock}"),
        ),
        [name.into()],
    );
    let mut created = false;
    let row = match txn.query_one_raw(read.clone()).await? {
        Some(row) => row,
        None => {
            // First pass of a new purpose: start at the journal's end (no history).
            let insert = Statement::from_sql_and_values(
                backend,
                sql(
                    backend,
                    "INSERT INTO engine_positions (consumer, position, updated_at) \
                     SELECT $1, COALESCE(MAX(id), 0), $2 FROM defect_events WHERE true \
                     ON CONFLICT (consumer) DO NOTHING",
                ),
                [name.into(), crate::time::now().into()],
            );
            created = txn.execute_raw(insert).await?.rows_affected() == 1;
            match txn.query_one_raw(read).await? {
                Some(row) => row,
                None => return Ok(None), // inserted by an instance that holds it now
            }
        }
    };
    let position: i64 = row.try_get("", "position")?;
    Ok(Some(Claim {
        txn,
        position,
        name,
        created,
    }))
}

/// Whether events wait after `name`'s position (or it has no position yet): one read,
/// without a lock, so an idle instance's once-a-second pass writes nothing (a claim
/// locks the row: on SQLite the one write lock, on PostgreSQL a tuple lock, WAL either
/// way).
async fn has_work(db: &DatabaseConnection, name: &str) -> AppResult<bool> {
    let backend = db.get_database_backend();
    let stmt = Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM engine_positions WHERE consumer = $1) \
             THEN EXISTS (SELECT 1 FROM defect_events WHERE id > \
             (SELECT position FROM engine_positions WHERE consumer = $2)) \
             ELSE TRUE END AS work",
        ),
        [name.into(), name.into()],
    );
    let row = db.query_one_raw(stmt).await?;
    Ok(match row {
        Some(row) => row.try_get::<bool>("", "work")?,
        None => true,
    })
}

/// What one pass of a consumer did.
#[derive(Debug, PartialEq, Eq)]
pub enum Pass {
    /// Another instance holds the consumer now.
    Busy,
    /// Handled this many events (0: the consumer is at the journal's end).
    Handled(usize),
}

/// One pass of `consumer`: claim, read up to [`BATCH`] events, handle, advance, commit.
pub async fn pass(db: &DatabaseConnection, consumer: &dyn Consumer) -> AppResult<Pass> {
    if !has_work(db, consumer.name()).await? {
        return Ok(Pass::Handled(0));
    }
    let Some(claim) = claim(db, consumer.name()).await? else {
        return Ok(Pass::Busy);
    };
    let after = i32::try_from(claim.position).map_err(AppError::internal)?;
    let events = defect_events::Entity::find()
        .filter(defect_events::Column::Id.gt(after))
        .order_by_asc(defect_events::Column::Id)
        .limit(BATCH)
        .all(&claim.txn)
        .await?;
    if events.is_empty() {
        if claim.created {
            let at = claim.position;
            claim.commit(at).await?;
        } else {
            claim.txn.rollback().await?;
        }
        return Ok(Pass::Handled(0));
    }
    consumer.handle(&claim.txn, &events).await?;
    let last = events.last().map_or(claim.position, |e| i64::from(e.id));
    let n = events.len();
    claim.commit(last).await?;
    Ok(Pass::Handled(n))
}
