//! The reports' maintained aggregate: what `summary`, `byProject` and `byEngineer` read
//! instead of scanning `defects`, kept exact by [`apply`] in the transaction of every
//! change of a defect (create, edit, assignment, status move, delete, restore, purge,
//! backdating).
//!
//! Two tables (migration `m20261130_000401_report_tallies`):
//! - `report_counts`: live defects per project × performer (0 = nobody) × status ×
//!   priority; the summed `closed_at - created_at` of CLOSED ones as whole seconds and
//!   microsecond remainders (exact integers); and `late`, open defects whose deadline had
//!   passed when they were counted;
//! - `report_deadlines`: open defects per deadline day × the same key, for deadlines that
//!   had not passed when they were counted.
//!
//! A project's `overdue` = `late` + its `report_deadlines` rows before the project's today
//! (the local date in its zone, NOTIFY.md), so a defect that becomes overdue at midnight
//! needs no write. What goes to `late` is decided by the *earliest* today of any zone
//! (`site_time::earliest_today`, UTC−12), not the project's: a contribution placed in
//! `late` has a deadline before every later today of every zone, so it stays right
//! whatever the project's zone is or becomes, and the `+1` and `-1` of one defect always
//! land where both count or neither does. [`compact`] (periodically, from `serve`) folds
//! the rows before the earliest today into `late`, so that reports read O(groups) rows
//! whatever the date: the rows between the earliest and the latest today (at most two
//! days) are read with their project's zone and counted by its today.
//!
//! Concurrency (PostgreSQL): every writer upserts its `report_deadlines` rows before its
//! `report_counts` rows, each in one statement with the keys sorted, as the last
//! statements of its transaction (short row-lock holds, no lock-order cycles between
//! writers); [`compact`] locks `report_deadlines` first too.
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, TransactionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Query, SelectStatement, UnionType},
};

use super::queries::{Counts, Row, fold};
use crate::{
    auth::Viewer,
    domain::{
        defects::filter::DefectFilter,
        projects::{queries::visible_ids, site_time},
        validate::one_of,
    },
    entities::{
        defects,
        enums::{DefectStatus, Priority},
        projects, report_counts as counts, report_deadlines as deadlines,
    },
    error::{AppError, AppResult},
    time,
};

/// The key of a `report_counts` row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub project_id: i32,
    /// 0: nobody performs it.
    pub performer_id: i32,
    pub status: i16,
    pub priority: i16,
}

impl Key {
    /// project, performer, status, priority: the key columns' order in both tables.
    fn values(&self) -> [sea_orm::Value; 4] {
        [
            self.project_id.into(),
            self.performer_id.into(),
            self.status.into(),
            self.priority.into(),
        ]
    }

    fn of(d: &defects::Model) -> Self {
        Key {
            project_id: d.project_id,
            performer_id: d.performer_id.unwrap_or(0),
            status: d.status.to_value(),
            priority: d.priority.to_value(),
        }
    }
}

/// Changes to one `report_counts` row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub n: i64,
    pub late: i64,
    pub closed_secs: i64,
    pub closed_micros: i64,
}

impl Tally {
    fn is_zero(&self) -> bool {
        *self == Tally::default()
    }
}

/// What a set of defects adds to the two tables.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tallies {
    pub counts: BTreeMap<Key, Tally>,
    pub deadlines: BTreeMap<(NaiveDate, Key), i64>,
}

impl Tallies {
    /// Adds `sign` × the contribution of `d` as counted on `today` (the earliest today of
    /// any zone, see the module doc): nothing for a soft-deleted defect.
    pub fn add(&mut self, d: &defects::Model, sign: i64, today: NaiveDate) {
        if d.deleted_at.is_some() {
            return;
        }
        let key = Key::of(d);
        let t = self.counts.entry(key).or_default();
        t.n += sign;
        if d.status == DefectStatus::Closed
            && let Some(closed) = d.closed_at
        {
            // Truncating division, as the SQL of `recompute` does.
            let us = (closed - d.created_at).num_microseconds().unwrap_or(0);
            t.closed_secs += sign * (us / 1_000_000);
            t.closed_micros += sign * (us % 1_000_000);
        }
        if DefectStatus::OPEN.contains(&d.status)
            && let Some(deadline) = d.deadline
        {
            if deadline < today {
                t.late += sign;
            } else {
                *self.deadlines.entry((deadline, key)).or_default() += sign;
            }
        }
    }

    fn prune(&mut self) {
        self.counts.retain(|_, t| !t.is_zero());
        self.deadlines.retain(|_, n| *n != 0);
    }
}

/// Brings the aggregate from `before` to `after` (either absent: created, purged) in the
/// caller's transaction: -1 on the old buckets, +1 on the new ones. A change that moves no
/// bucket (a title, a comment) costs no statement.
pub async fn apply(
    db: &impl ConnectionTrait,
    before: Option<&defects::Model>,
    after: Option<&defects::Model>,
) -> AppResult<()> {
    let today = site_time::earliest_today(time::now());
    let mut t = Tallies::default();
    if let Some(d) = before {
        t.add(d, -1, today);
    }
    if let Some(d) = after {
        t.add(d, 1, today);
    }
    t.prune();
    write(db, &t).await
}

/// Rows per upsert statement: 8 parameters a row stays far below both backends' limits
/// (a compaction or repair may write thousands of rows).
const CHUNK: usize = 500;

/// Adds `t` to the tables: deadlines first, then counts, keys sorted (see the module doc).
async fn write(db: &impl ConnectionTrait, t: &Tallies) -> AppResult<()> {
    use counts::Column as C;
    use deadlines::Column as D;
    let deadline_rows = t.deadlines.iter().map(|((day, k), n)| {
        let mut row = vec![sea_orm::Value::from(*day)];
        row.extend(k.values());
        row.push((*n).into());
        row
    });
    upsert_sums::<deadlines::Entity>(
        db,
        &[
            D::Deadline,
            D::ProjectId,
            D::PerformerId,
            D::Status,
            D::Priority,
        ],
        &[D::N],
        deadline_rows.collect(),
    )
    .await?;
    let count_rows = t.counts.iter().map(|(k, v)| {
        let mut row = k.values().to_vec();
        row.extend([v.n, v.late, v.closed_secs, v.closed_micros].map(sea_orm::Value::from));
        row
    });
    upsert_sums::<counts::Entity>(
        db,
        &[C::ProjectId, C::PerformerId, C::Status, C::Priority],
        &[C::N, C::Late, C::ClosedSecs, C::ClosedMicros],
        count_rows.collect(),
    )
    .await
}

/// `INSERT (keys…, sums…) … ON CONFLICT (keys…) DO UPDATE SET s = <table>.s + excluded.s`
/// for every summed column, `CHUNK` rows per statement, in the rows' order.
async fn upsert_sums<E: EntityTrait>(
    db: &impl ConnectionTrait,
    keys: &[E::Column],
    sums: &[E::Column],
    rows: Vec<Vec<sea_orm::Value>>,
) -> AppResult<()> {
    let table = E::default().table_name();
    for chunk in rows.chunks(CHUNK) {
        let mut q = Query::insert();
        q.into_table(E::default())
            .columns(keys.iter().chain(sums).copied());
        for row in chunk {
            q.values(row.iter().cloned().map(Expr::from))
                .map_err(AppError::internal)?;
        }
        q.on_conflict(
            OnConflict::columns(keys.iter().copied())
                .values(sums.iter().map(|c| {
                    let c_name = sea_orm::IdenStatic::as_str(c);
                    (
                        *c,
                        Expr::cust(format!("{table}.{c_name} + excluded.{c_name}")),
                    )
                }))
                .to_owned(),
        );
        db.execute(&q).await?;
    }
    Ok(())
}

/// A defect list's `totalCount` from the aggregate, when the filter constrains only what
/// `report_counts` is keyed by (project, performer, status, priority): a sum over at most
/// performers × statuses × priorities rows per project instead of a count of every
/// matching defect (at a million defects, the open defects of one project are ~17k heap
/// rows to visit per list request). `None` for any other filter: the caller counts rows.
/// Same set as `defects::queries::visible_to` + the filter: live defects of the viewer's
/// projects (the aggregate holds live defects only).
pub async fn count(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    filter: &DefectFilter,
) -> AppResult<Option<u64>> {
    // Exhaustive on purpose: a new filter field does not compile here until someone
    // decides whether the aggregate can answer it.
    let DefectFilter {
        project_id,
        performer_id,
        status,
        priority,
        stage_id: None,
        author_id: None,
        created_from: None,
        created_to: None,
        deadline_from: None,
        deadline_to: None,
        overdue: None,
        search: None,
        plan_id: None,
    } = filter
    else {
        return Ok(None);
    };
    let mut q = Query::select();
    q.from(counts::Entity)
        .expr_as(Expr::cust("CAST(COALESCE(SUM(n), 0) AS BIGINT)"), "n");
    if let Some(ids) = visible_ids(viewer) {
        q.and_where(Expr::col(counts::Column::ProjectId).in_subquery(ids));
    }
    if let Some(id) = project_id {
        q.and_where(Expr::col(counts::Column::ProjectId).eq(*id));
    }
    match performer_id {
        // 0 is the aggregate's "nobody"; no user has it, so no defect matches it.
        Some(id) if *id <= 0 => return Ok(Some(0)),
        Some(id) => {
            q.and_where(Expr::col(counts::Column::PerformerId).eq(*id));
        }
        None => {}
    }
    if !status.is_empty() {
        // Deduplicated, as the row filter does: a 70,000-entry list is 5 parameters.
        q.and_where(one_of(counts::Column::Status, status));
    }
    if !priority.is_empty() {
        q.and_where(one_of(counts::Column::Priority, priority));
    }
    let n: i64 = match db.query_one(&q).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(Some(u64::try_from(n).unwrap_or(0)))
}

mod maintenance;
mod read;
pub use maintenance::{Drift, Effective, closed_micros_sql, compact, drift, rebuild};
pub use read::{Group, read, read_in};

#[cfg(test)]
mod tests;
