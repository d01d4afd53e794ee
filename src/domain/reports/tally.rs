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
//! `overdue` on `today` = `late` + the `report_deadlines` rows before `today`, so a defect
//! that becomes overdue at midnight needs no write: a contribution placed in `late` has a
//! deadline before every later `today`, and the `+1` and `-1` of one defect always land
//! where both count or neither does. [`compact`] (periodically, from `serve`) folds the
//! past rows into `late` so that reports read O(groups) rows whatever the date.
//!
//! Concurrency (PostgreSQL): every writer upserts its `report_deadlines` rows before its
//! `report_counts` rows, each in one statement with the keys sorted, as the last
//! statements of its transaction (short row-lock holds, no lock-order cycles between
//! writers); [`compact`] locks `report_deadlines` first too.
use std::collections::BTreeMap;

use chrono::NaiveDate;
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, TransactionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Query, SelectStatement, UnionType},
};

use super::queries::{Counts, Row, fold};
use crate::{
    auth::Viewer,
    domain::{defects::filter::DefectFilter, projects::queries::visible_ids, validate::one_of},
    entities::{
        defects,
        enums::{DefectStatus, Priority},
        report_counts as counts, report_deadlines as deadlines,
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
    /// Adds `sign` × the contribution of `d` as counted on `today`: nothing for a
    /// soft-deleted defect.
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
    let today = time::today();
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

/// Counts over the live defects of the viewer's projects (and `project_id`, if given):
/// one entry, or one per project / performer with defects (`None`: nobody performs them).
/// One statement over `report_counts` and the past rows of `report_deadlines`.
pub async fn read(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    project_id: Option<i32>,
    group: Group,
    today: NaiveDate,
) -> AppResult<Vec<(Option<i32>, Counts)>> {
    let projects = project_id.as_ref().map(std::slice::from_ref);
    read_in(db, viewer, projects, group, today).await
}

/// [`read`] narrowed to some of the viewer's projects (`None`: all of them).
pub async fn read_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    projects: Option<&[i32]>,
    group: Group,
    today: NaiveDate,
) -> AppResult<Vec<(Option<i32>, Counts)>> {
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
        .and_where(Expr::col(deadlines::Column::Deadline).lt(today))
        .group_by_columns([deadlines::Column::Status, deadlines::Column::Priority]);
    narrow(
        &mut past,
        Expr::col((deadlines::Entity, deadlines::Column::ProjectId)),
    );
    if group != Group::Nothing {
        q.add_group_by([key("report_counts")]);
        past.add_group_by([key("report_deadlines")]);
    }
    q.union(UnionType::All, past);
    let mut rows = Vec::new();
    for r in db.query_all(&q).await? {
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

/// Microseconds from `created_at` to `closed_at` of one `defects` row, exactly, in SQL.
/// PostgreSQL's EXTRACT of an interval is numeric; SQLite keeps RFC 3339 text
/// (`…T12:00:00.123456+00:00`, 0, 3 or 6 fraction digits) and its date functions stop at
/// milliseconds, so the fraction is read as digits. The one place that knows both.
pub fn closed_micros_sql(backend: DbBackend) -> String {
    match backend {
        DbBackend::Postgres => {
            "CAST(EXTRACT(EPOCH FROM (defects.closed_at - defects.created_at)) * 1000000 AS BIGINT)"
                .to_owned()
        }
        _ => {
            let us = |c: &str| {
                format!(
                    "(CAST(strftime('%s', substr({c}, 1, 19)) AS INTEGER) * 1000000 + \
                     CASE WHEN substr({c}, 20, 1) = '.' THEN CAST(substr(substr({c}, 21, \
                     instr(substr({c}, 21), '+') - 1) || '000000', 1, 6) AS INTEGER) ELSE 0 END)"
                )
            };
            format!(
                "({} - {})",
                us("defects.closed_at"),
                us("defects.created_at")
            )
        }
    }
}

/// The aggregate's `SELECT`s computed from scratch over `defects` (the migration's
/// backfill is the same statements): every open defect with a deadline in
/// `report_deadlines`, whatever the date; [`compact`] moves the past ones to `late`.
fn recompute_sql(backend: DbBackend) -> (String, String) {
    let counts = format!(
        "SELECT project_id, performer_id, status, priority, COUNT(*) AS n, CAST(0 AS BIGINT) AS late, \
                CAST(COALESCE(SUM(us / 1000000), 0) AS BIGINT) AS closed_secs, \
                CAST(COALESCE(SUM(us % 1000000), 0) AS BIGINT) AS closed_micros \
         FROM (SELECT project_id, COALESCE(performer_id, 0) AS performer_id, status, priority, \
                      CASE WHEN status = 3 AND closed_at IS NOT NULL THEN {} END AS us \
               FROM defects WHERE deleted_at IS NULL) AS live \
         GROUP BY project_id, performer_id, status, priority",
        closed_micros_sql(backend)
    );
    let deadlines = "SELECT deadline, project_id, COALESCE(performer_id, 0) AS performer_id, status, priority, COUNT(*) AS n \
         FROM defects WHERE deleted_at IS NULL AND deadline IS NOT NULL AND status IN (0, 1, 2) \
         GROUP BY deadline, project_id, COALESCE(performer_id, 0), status, priority"
        .to_owned();
    (counts, deadlines)
}

/// Folds the `report_deadlines` rows before `today` into `late`. Exact at any moment
/// (reports count those rows either way); keeps the rows a report reads bounded by the
/// groups. Returns how many rows it folded.
pub async fn compact(db: &DatabaseConnection, today: NaiveDate) -> AppResult<u64> {
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    let param = if backend == DbBackend::Postgres {
        // Writers touch report_deadlines first; holding it first keeps the lock order.
        txn.execute_unprepared("LOCK TABLE report_deadlines IN SHARE ROW EXCLUSIVE MODE")
            .await?;
        "$1"
    } else {
        "?"
    };
    // A write first (on SQLite it takes the write lock before anything is read), in the
    // keys' order (the writers' lock order on PostgreSQL).
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO report_counts (project_id, performer_id, status, priority, n, late, closed_secs, closed_micros) \
             SELECT project_id, performer_id, status, priority, 0, SUM(n), 0, 0 FROM report_deadlines \
             WHERE deadline < {param} GROUP BY project_id, performer_id, status, priority \
             ORDER BY project_id, performer_id, status, priority \
             ON CONFLICT (project_id, performer_id, status, priority) \
             DO UPDATE SET late = report_counts.late + excluded.late"
        ),
        [today.into()],
    ))
    .await?;
    let folded = deadlines::Entity::delete_many()
        .filter(deadlines::Column::Deadline.lt(today))
        .exec(&txn)
        .await?
        .rows_affected;
    // Future rows whose defects all moved on (a deadline changed back and forth) hold
    // nothing; without this they would stay until their day, which a far-future
    // deadline never reaches.
    deadlines::Entity::delete_many()
        .filter(deadlines::Column::N.eq(0))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(folded)
}

/// The aggregate as reports see it on `today`: `late` with the past deadline rows added,
/// the closing time as total microseconds, future deadline rows as they are; zeros left out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Effective {
    pub counts: BTreeMap<Key, (i64, i64, i128)>,
    pub deadlines: BTreeMap<(NaiveDate, Key), i64>,
}

impl Effective {
    fn of(t: Tallies, today: NaiveDate) -> Self {
        let mut e = Effective::default();
        for (k, v) in t.counts {
            let us = i128::from(v.closed_secs) * 1_000_000 + i128::from(v.closed_micros);
            e.counts.insert(k, (v.n, v.late, us));
        }
        for ((day, k), n) in t.deadlines {
            if day < today {
                e.counts.entry(k).or_default().1 += n;
            } else {
                *e.deadlines.entry((day, k)).or_default() += n;
            }
        }
        e.counts.retain(|_, v| *v != (0, 0, 0));
        e.deadlines.retain(|_, n| *n != 0);
        e
    }
}

/// The tables as they are, in the shape of [`recompute_sql`]'s answer.
const MAINTAINED_SQL: (&str, &str) = (
    "SELECT project_id, performer_id, status, priority, n, late, closed_secs, closed_micros \
     FROM report_counts",
    "SELECT deadline, project_id, performer_id, status, priority, n FROM report_deadlines",
);

async fn load_maintained(db: &impl ConnectionTrait) -> AppResult<Tallies> {
    load(db, MAINTAINED_SQL.0, MAINTAINED_SQL.1).await
}

async fn load_fresh(db: &impl ConnectionTrait) -> AppResult<Tallies> {
    let (counts_sql, deadlines_sql) = recompute_sql(db.get_database_backend());
    load(db, &counts_sql, &deadlines_sql).await
}

/// Reads count rows (key, n, late, closed_secs, closed_micros) and deadline rows
/// (deadline, key, n) into tallies.
async fn load(
    db: &impl ConnectionTrait,
    counts_sql: &str,
    deadlines_sql: &str,
) -> AppResult<Tallies> {
    let backend = db.get_database_backend();
    let key = |r: &sea_orm::QueryResult| -> Result<Key, sea_orm::DbErr> {
        Ok(Key {
            project_id: r.try_get("", "project_id")?,
            performer_id: r.try_get("", "performer_id")?,
            status: r.try_get("", "status")?,
            priority: r.try_get("", "priority")?,
        })
    };
    let mut t = Tallies::default();
    for r in db
        .query_all_raw(sea_orm::Statement::from_string(backend, counts_sql))
        .await?
    {
        t.counts.insert(
            key(&r)?,
            Tally {
                n: r.try_get("", "n")?,
                late: r.try_get("", "late")?,
                closed_secs: r.try_get("", "closed_secs")?,
                closed_micros: r.try_get("", "closed_micros")?,
            },
        );
    }
    for r in db
        .query_all_raw(sea_orm::Statement::from_string(backend, deadlines_sql))
        .await?
    {
        t.deadlines
            .insert((r.try_get("", "deadline")?, key(&r)?), r.try_get("", "n")?);
    }
    Ok(t)
}

/// One difference between the maintained aggregate and a recomputation.
#[derive(Debug, PartialEq, Eq)]
pub struct Drift {
    pub what: String,
    pub maintained: String,
    pub fresh: String,
}

/// Recomputes the aggregate from `defects` (one consistent snapshot on PostgreSQL) and
/// lists every bucket where the maintained one differs, as reports would see it on `today`.
pub async fn drift(db: &DatabaseConnection, today: NaiveDate) -> AppResult<Vec<Drift>> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
    }
    let maintained = Effective::of(load_maintained(&txn).await?, today);
    let fresh = Effective::of(load_fresh(&txn).await?, today);
    txn.commit().await?;
    let mut out = Vec::new();
    let show = |v: Option<&(i64, i64, i128)>| {
        v.map_or("none".to_owned(), |(n, late, us)| {
            format!("n={n} overdue={late} closed_us={us}")
        })
    };
    let keys: std::collections::BTreeSet<_> = maintained
        .counts
        .keys()
        .chain(fresh.counts.keys())
        .collect();
    for k in keys {
        let (m, f) = (maintained.counts.get(k), fresh.counts.get(k));
        if m != f {
            out.push(Drift {
                what: format!("counts {k:?}"),
                maintained: show(m),
                fresh: show(f),
            });
        }
    }
    let keys: std::collections::BTreeSet<_> = maintained
        .deadlines
        .keys()
        .chain(fresh.deadlines.keys())
        .collect();
    for k in keys {
        let (m, f) = (maintained.deadlines.get(k), fresh.deadlines.get(k));
        if m != f {
            out.push(Drift {
                what: format!("deadline {} {:?}", k.0, k.1),
                maintained: format!("{m:?}"),
                fresh: format!("{f:?}"),
            });
        }
    }
    Ok(out)
}

/// Replaces the aggregate with a recomputation from `defects` (after a bulk load, or to
/// repair drift), then compacts. On PostgreSQL the tables are locked against writers for
/// the duration, so a change committed meanwhile is either in the recomputation or
/// applied on top of it.
pub async fn rebuild(db: &DatabaseConnection) -> AppResult<()> {
    let backend = db.get_database_backend();
    let (counts_sql, deadlines_sql) = recompute_sql(backend);
    let txn = db.begin().await?;
    if backend == DbBackend::Postgres {
        txn.execute_unprepared("LOCK TABLE report_deadlines, report_counts IN EXCLUSIVE MODE")
            .await?;
    }
    txn.execute_unprepared("DELETE FROM report_deadlines")
        .await?;
    txn.execute_unprepared("DELETE FROM report_counts").await?;
    txn.execute_unprepared(&format!(
        "INSERT INTO report_counts (project_id, performer_id, status, priority, n, late, closed_secs, closed_micros) {counts_sql}"
    ))
    .await?;
    txn.execute_unprepared(&format!(
        "INSERT INTO report_deadlines (deadline, project_id, performer_id, status, priority, n) {deadlines_sql}"
    ))
    .await?;
    txn.commit().await?;
    compact(db, time::today()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn defect() -> defects::Model {
        let at = Utc.with_ymd_and_hms(2026, 1, 10, 8, 0, 0).unwrap();
        defects::Model {
            id: 1,
            project_id: 3,
            number: 1,
            stage_id: None,
            title: "t".into(),
            description: String::new(),
            search_text: String::new(),
            priority: Priority::High,
            status: DefectStatus::New,
            performer_id: None,
            author_id: 1,
            deadline: NaiveDate::from_ymd_opt(2026, 2, 1),
            version: 1,
            created_at: at,
            updated_at: at,
            closed_at: None,
            deleted_at: None,
            plan_id: None,
            location_x: None,
            location_y: None,
            location_label: None,
        }
    }

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    #[test]
    fn an_edit_that_moves_no_bucket_changes_nothing() {
        let before = defect();
        let mut after = before.clone();
        after.title = "other".into();
        after.version = 2;
        let mut t = Tallies::default();
        t.add(&before, -1, day(1, 20));
        t.add(&after, 1, day(1, 20));
        t.prune();
        assert_eq!(t, Tallies::default());
    }

    #[test]
    fn deadlines_before_today_count_as_late_and_later_ones_by_day() {
        let d = defect();
        let mut early = Tallies::default();
        early.add(&d, 1, day(1, 20));
        assert_eq!(early.counts[&Key::of(&d)].late, 0);
        assert_eq!(early.deadlines[&(day(2, 1), Key::of(&d))], 1);
        let mut late = Tallies::default();
        late.add(&d, 1, day(2, 2));
        assert_eq!(late.counts[&Key::of(&d)].late, 1);
        assert!(late.deadlines.is_empty());
        // On the deadline day itself the defect is not overdue yet.
        let mut on = Tallies::default();
        on.add(&d, 1, day(2, 1));
        assert_eq!(on.counts[&Key::of(&d)].late, 0);
    }

    #[test]
    fn a_defect_counted_before_its_deadline_and_removed_after_it_nets_to_zero() {
        let d = defect();
        let mut t = Tallies::default();
        t.add(&d, 1, day(1, 20));
        t.add(&d, -1, day(3, 1));
        assert_eq!(Effective::of(t, day(3, 1)), Effective::default());
    }

    #[test]
    fn closing_time_is_kept_in_exact_microseconds() {
        let mut d = defect();
        d.status = DefectStatus::Closed;
        d.closed_at = Some(d.created_at + Duration::microseconds(90_000_123_456));
        let mut t = Tallies::default();
        t.add(&d, 1, day(1, 20));
        let v = t.counts[&Key::of(&d)];
        assert_eq!((v.n, v.closed_secs, v.closed_micros), (1, 90_000, 123_456));
        // Deleted defects count nowhere; closed ones are never late.
        d.deleted_at = Some(d.created_at);
        let mut none = Tallies::default();
        none.add(&d, 1, day(3, 1));
        assert_eq!(none, Tallies::default());
    }
}
