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

/// What a report groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Nothing,
    Project,
    Performer,
}

/// Counts over the live defects of the viewer's projects (and `project_id`, if given) at
/// `now` (each project's `overdue` by its own today): one entry, or one per project /
/// performer with defects (`None`: nobody performs them). One statement over
/// `report_counts` and the past rows of `report_deadlines`.
pub async fn read(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    project_id: Option<i32>,
    group: Group,
    now: DateTime<Utc>,
) -> AppResult<Vec<(Option<i32>, Counts)>> {
    let projects = project_id.as_ref().map(std::slice::from_ref);
    read_in(db, viewer, projects, group, now).await
}

/// [`read`] narrowed to some of the viewer's projects (`None`: all of them).
pub async fn read_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    projects: Option<&[i32]>,
    group: Group,
    now: DateTime<Utc>,
) -> AppResult<Vec<(Option<i32>, Counts)>> {
    // Before `floor` a deadline has passed in every zone; from `ceiling` on, in none.
    // Between them (at most two days) each row is read with its project's zone.
    let (floor, ceiling) = (site_time::earliest_today(now), site_time::latest_today(now));
    let key = |table: &str| match group {
        Group::Nothing => Expr::cust("0"),
        Group::Project => Expr::cust(format!("{table}.project_id")),
        Group::Performer => Expr::cust(format!("{table}.performer_id")),
    };
    let narrow = |q: &mut SelectStatement, project: Expr| {
        if let Some(ids) = visible_ids(viewer) {
            q.and_where(project.clone().in_subquery(ids));
        }
        match projects {
            Some([id]) => q.and_where(project.eq(*id)),
            Some(ids) => q.and_where(project.is_in(ids.iter().copied())),
            None => q,
        };
    };
    let mut q = Query::select();
    q.from(counts::Entity)
        .expr_as(key("report_counts"), "k")
        .column(counts::Column::Status)
        .column(counts::Column::Priority)
        .expr_as(Expr::cust("CAST(SUM(n) AS BIGINT)"), "n")
        .expr_as(Expr::cust("CAST(SUM(late) AS BIGINT)"), "late")
        .expr_as(Expr::cust("CAST(SUM(closed_secs) AS BIGINT)"), "secs")
        .expr_as(Expr::cust("CAST(SUM(closed_micros) AS BIGINT)"), "micros")
        .expr_as(Expr::cust("CAST(NULL AS TEXT)"), "zone")
        .expr_as(Expr::cust("CAST(NULL AS DATE)"), "day")
        .group_by_columns([counts::Column::Status, counts::Column::Priority]);
    narrow(
        &mut q,
        Expr::col((counts::Entity, counts::Column::ProjectId)),
    );
    let mut past = Query::select();
    past.from(deadlines::Entity)
        .expr_as(key("report_deadlines"), "k")
        .column(deadlines::Column::Status)
        .column(deadlines::Column::Priority)
        .expr_as(Expr::cust("CAST(0 AS BIGINT)"), "n")
        .expr_as(Expr::cust("CAST(SUM(n) AS BIGINT)"), "late")
        .expr_as(Expr::cust("CAST(0 AS BIGINT)"), "secs")
        .expr_as(Expr::cust("CAST(0 AS BIGINT)"), "micros")
        .expr_as(Expr::cust("CAST(NULL AS TEXT)"), "zone")
        .expr_as(Expr::cust("CAST(NULL AS DATE)"), "day")
        .and_where(Expr::col(deadlines::Column::Deadline).lt(floor))
        .group_by_columns([deadlines::Column::Status, deadlines::Column::Priority]);
    narrow(
        &mut past,
        Expr::col((deadlines::Entity, deadlines::Column::ProjectId)),
    );
    // The days between: by zone and day, decided below (bounded by 2 days × zones).
    let deadline = || Expr::col((deadlines::Entity, deadlines::Column::Deadline));
    let zone = || Expr::col((projects::Entity, projects::Column::TimeZone));
    let mut near = Query::select();
    near.from(deadlines::Entity)
        .inner_join(
            projects::Entity,
            Expr::col((projects::Entity, projects::Column::Id))
                .equals((deadlines::Entity, deadlines::Column::ProjectId)),
        )
        .expr_as(key("report_deadlines"), "k")
        .expr_as(
            Expr::col((deadlines::Entity, deadlines::Column::Status)),
            "status",
        )
        .expr_as(
            Expr::col((deadlines::Entity, deadlines::Column::Priority)),
            "priority",
        )
        .expr_as(Expr::cust("CAST(0 AS BIGINT)"), "n")
        .expr_as(
            Expr::cust("CAST(SUM(report_deadlines.n) AS BIGINT)"),
            "late",
        )
        .expr_as(Expr::cust("CAST(0 AS BIGINT)"), "secs")
        .expr_as(Expr::cust("CAST(0 AS BIGINT)"), "micros")
        .expr_as(zone(), "zone")
        .expr_as(deadline(), "day")
        .and_where(deadline().gte(floor))
        .and_where(deadline().lt(ceiling))
        .add_group_by([
            Expr::col((deadlines::Entity, deadlines::Column::Status)),
            Expr::col((deadlines::Entity, deadlines::Column::Priority)),
            zone(),
            deadline(),
        ]);
    narrow(
        &mut near,
        Expr::col((deadlines::Entity, deadlines::Column::ProjectId)),
    );
    if group != Group::Nothing {
        q.add_group_by([key("report_counts")]);
        past.add_group_by([key("report_deadlines")]);
        near.add_group_by([key("report_deadlines")]);
    }
    q.union(UnionType::All, past);
    q.union(UnionType::All, near);
    let mut rows = Vec::new();
    for r in db.query_all(&q).await? {
        let zone = r.try_get::<Option<String>>("", "zone")?;
        let day = r.try_get::<Option<NaiveDate>>("", "day")?;
        if let (Some(zone), Some(day)) = (zone, day)
            && day >= site_time::today_in(site_time::zone(&zone), now)
        {
            continue;
        }
        let k = r.try_get::<i32>("", "k")?;
        rows.push(Row {
            key: match group {
                Group::Nothing => None,
                Group::Performer if k == 0 => None,
                _ => Some(k),
            },
            status: DefectStatus::try_from_value(&r.try_get::<i16>("", "status")?)?,
            priority: Priority::try_from_value(&r.try_get::<i16>("", "priority")?)?,
            n: r.try_get("", "n")?,
            late: r.try_get("", "late")?,
            closed_secs: r.try_get("", "secs")?,
            closed_micros: r.try_get("", "micros")?,
        });
    }
    // Buckets emptied by changes stay as zero rows; a group without defects is absent,
    // as in the scan.
    let mut out = fold(rows);
    out.retain(|(_, c)| c.total > 0);
    Ok(out)
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
pub use maintenance::{Drift, Effective, closed_micros_sql, compact, drift, rebuild};

#[cfg(test)]
mod tests;
