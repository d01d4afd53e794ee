//! The tick `idempotency`: deletes keys past `expires_at`, oldest first, in batches of
//! [`BATCH`] and at most [`BATCHES`] a run, each its own statement through the
//! `expires_at` index; what is left waits for the next run. Two instances sweeping at
//! once delete the same rows, which is harmless.
use std::time::Duration;

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::{
    engine::{Tick, sql},
    error::AppResult,
    time,
};

/// Rows deleted per statement.
pub const BATCH: u64 = 1000;
/// Statements per run.
pub const BATCHES: u32 = 20;

pub struct Sweep;

#[async_trait]
impl Tick for Sweep {
    fn name(&self) -> &'static str {
        "idempotency"
    }

    fn every(&self) -> Duration {
        Duration::from_secs(300)
    }

    async fn run(&self, db: &DatabaseConnection) -> AppResult<()> {
        sweep(db, BATCH, BATCHES).await.map(|_| ())
    }
}

/// Deletes up to `batches` × `batch` expired keys; returns how many went.
pub async fn sweep(db: &DatabaseConnection, batch: u64, batches: u32) -> AppResult<u64> {
    let backend = db.get_database_backend();
    let now = time::now();
    let mut total = 0;
    for _ in 0..batches {
        let stmt = Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                &format!(
                    "DELETE FROM idempotency_keys WHERE id IN (SELECT id FROM idempotency_keys \
                     WHERE expires_at <= $1 ORDER BY expires_at LIMIT {batch})"
                ),
            ),
            [now.into()],
        );
        let n = db.execute_raw(stmt).await?.rows_affected();
        total += n;
        if n < batch {
            break;
        }
    }
    Ok(total)
}
