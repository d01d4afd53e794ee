//! Durable jobs with a lease: claimed with `FOR UPDATE SKIP LOCKED` (PostgreSQL), so
//! several instances never take the same job at once; a job whose instance died is
//! taken again when its lease runs out. `attempts` is the fencing token: the outcome of
//! an attempt whose lease ran out (and whose job another instance took) changes nothing.
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, Statement};

use super::sql;
use crate::{entities::jobs, error::AppResult, time};

pub const PENDING: &str = "pending";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";

/// Queues a job (in the caller's transaction); a second job with the same `dedupe` is
/// not queued (the first stands).
pub async fn enqueue(
    db: &impl ConnectionTrait,
    kind: &str,
    dedupe: &str,
    payload: &str,
    run_at: DateTime<Utc>,
) -> AppResult<()> {
    enqueue_many(db, kind, &[(dedupe.to_owned(), payload.to_owned())], run_at).await
}

/// Queues several jobs of one kind in one statement (see [`enqueue`]).
pub async fn enqueue_many(
    db: &impl ConnectionTrait,
    kind: &str,
    items: &[(String, String)],
    run_at: DateTime<Utc>,
) -> AppResult<()> {
    // Chunks keep each statement within both databases' bound-parameter limits.
    for chunk in items.chunks(1000) {
        enqueue_chunk(db, kind, chunk, run_at).await?;
    }
    Ok(())
}

async fn enqueue_chunk(
    db: &impl ConnectionTrait,
    kind: &str,
    items: &[(String, String)],
    run_at: DateTime<Utc>,
) -> AppResult<()> {
    let backend = db.get_database_backend();
    let now = time::now();
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(items.len() * 7);
    for (dedupe, payload) in items {
        values.extend([
            kind.into(),
            dedupe.as_str().into(),
            payload.as_str().into(),
            PENDING.into(),
            run_at.into(),
            now.into(),
            now.into(),
        ]);
    }
    let text = format!(
        "INSERT INTO jobs (kind, dedupe, payload, state, run_at, created_at, updated_at) \
         VALUES {} ON CONFLICT (dedupe) DO NOTHING",
        super::rows_of(backend, items.len(), 7)
    );
    db.execute_raw(Statement::from_sql_and_values(backend, text, values))
        .await?;
    Ok(())
}

/// Takes up to `limit` due jobs of `kind` for `lease`; each attempt counts.
pub async fn claim(
    db: &DatabaseConnection,
    kind: &str,
    lease: Duration,
    limit: u64,
) -> AppResult<Vec<jobs::Model>> {
    let backend = db.get_database_backend();
    let now = time::now();
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    let lock = match backend {
        sea_orm::DatabaseBackend::Postgres => " FOR UPDATE SKIP LOCKED",
        _ => "",
    };
    let text = sql(
        backend,
        &format!(
            "UPDATE jobs SET locked_until = $1, attempts = attempts + 1, updated_at = $2 \
             WHERE id IN (SELECT id FROM jobs WHERE kind = $3 AND state = '{PENDING}' \
             AND run_at <= $4 AND (locked_until IS NULL OR locked_until < $5) \
             ORDER BY run_at, id LIMIT $6{lock}) RETURNING *"
        ),
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let stmt = Statement::from_sql_and_values(
        backend,
        text,
        [
            until.into(),
            now.into(),
            kind.into(),
            now.into(),
            now.into(),
            limit.into(),
        ],
    );
    Ok(jobs::Entity::find().from_raw_sql(stmt).all(db).await?)
}

/// Extends the lease of `job`'s attempt by `lease` from now (a heartbeat for long
/// work); false when the attempt has lost its job (another attempt has started, or
/// it was recorded): the work should stop, its outcome would change nothing.
pub async fn renew(
    db: &impl ConnectionTrait,
    job: &jobs::Model,
    lease: Duration,
) -> AppResult<bool> {
    let backend = db.get_database_backend();
    let now = time::now();
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    let stmt = Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE jobs SET locked_until = $1, updated_at = $2 \
             WHERE id = $3 AND attempts = $4 AND state = 'pending'",
        ),
        [until.into(), now.into(), job.id.into(), job.attempts.into()],
    );
    Ok(db.execute_raw(stmt).await?.rows_affected() == 1)
}

/// How an attempt ended.
#[derive(Debug)]
pub enum Outcome {
    Done,
    /// Try again at `at`.
    Retry {
        error: String,
        at: DateTime<Utc>,
    },
    /// Give up (kept as `failed` with the error).
    Failed(String),
}

/// Records the outcome of `job`'s attempt; false when the attempt's lease was lost
/// (another attempt has started since: nothing changed).
pub async fn finish(
    db: &impl ConnectionTrait,
    job: &jobs::Model,
    outcome: Outcome,
) -> AppResult<bool> {
    let backend = db.get_database_backend();
    let now = time::now();
    let (state, error, run_at) = match outcome {
        Outcome::Done => (DONE, None, job.run_at),
        Outcome::Retry { error, at } => (PENDING, Some(error), at),
        Outcome::Failed(error) => (FAILED, Some(error), job.run_at),
    };
    let stmt = Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE jobs SET state = $1, last_error = $2, run_at = $3, locked_until = NULL, \
             updated_at = $4 WHERE id = $5 AND attempts = $6 AND state = 'pending'",
        ),
        [
            state.into(),
            error.into(),
            run_at.into(),
            now.into(),
            job.id.into(),
            job.attempts.into(),
        ],
    );
    Ok(db.execute_raw(stmt).await?.rows_affected() == 1)
}

/// Exponential backoff with full jitter: attempt 1 waits up to `first`, each further
/// attempt doubles the ceiling, capped at `cap`.
pub fn backoff(attempts: i32, first: Duration, cap: Duration) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let ceiling = first.saturating_mul(1u32 << exp).min(cap);
    let half = ceiling / 2;
    // Half fixed, half random: never a retry storm at 0, never longer than the ceiling.
    half + ceiling.saturating_sub(half).mul_f64(rand::random::<f64>())
}

/// Removes finished jobs older than `keep` (done and failed); returns how many.
pub async fn sweep(db: &DatabaseConnection, keep: Duration) -> AppResult<u64> {
    let backend = db.get_database_backend();
    let before = time::now() - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
    let stmt = Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "DELETE FROM jobs WHERE state IN ('done', 'failed') AND updated_at < $1",
        ),
        [before.into()],
    );
    Ok(db.execute_raw(stmt).await?.rows_affected())
}
