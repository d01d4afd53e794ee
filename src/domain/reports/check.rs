//! The operator's check of the reports' aggregate (`defect-control reports-check`): the
//! maintained aggregate against a recomputation from `defects` ([`tally::drift`]) and,
//! when asked and needed, a rebuild ([`tally::rebuild`]: the replacement in one
//! transaction, the tables locked against writers on PostgreSQL) checked again.
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::tally::{self, Drift};
use crate::error::AppResult;

/// What a check found, and what a repair left.
#[derive(Debug)]
pub struct Checked {
    /// Every bucket where the aggregate differed from the recomputation.
    pub drift: Vec<Drift>,
    /// After a repair, what still differs (empty when it worked); `None` when nothing was
    /// rebuilt (not asked, or nothing to repair).
    pub left: Option<Vec<Drift>>,
}

impl Checked {
    /// Whether reports read exact numbers now: no drift, or none left after the repair.
    pub fn exact(&self) -> bool {
        self.left.as_ref().unwrap_or(&self.drift).is_empty()
    }
}

/// Compares the aggregate with a recomputation as reports would read it at `now`; with
/// `repair`, rebuilds it when it differs and compares again.
pub async fn run(db: &DatabaseConnection, now: DateTime<Utc>, repair: bool) -> AppResult<Checked> {
    let drift = tally::drift(db, now).await?;
    let left = if repair && !drift.is_empty() {
        tally::rebuild(db).await?;
        Some(tally::drift(db, now).await?)
    } else {
        None
    };
    Ok(Checked { drift, left })
}
