//! Counts and the full-scan aggregate: conditional counts over the defects a viewer can
//! see, optionally grouped by a column, in a single statement (the reference for the
//! maintained aggregate in `tally`, and the path for `from`/`to`).
use sea_orm::{
    ActiveEnum, ConnectionTrait, DbBackend, Iterable, QueryFilter, QuerySelect, QueryTrait,
    sea_query::Expr,
};

use crate::{
    auth::Viewer,
    domain::{
        defects::{filter::DefectFilter, queries::visible_to},
        projects::site_time::Todays,
    },
    entities::{
        defects::{self, Column},
        enums::{DefectStatus, Priority},
    },
    error::AppResult,
};

/// Counts over one group of defects.
#[derive(Clone, Debug, PartialEq)]
pub struct Counts {
    pub total: u64,
    /// Every status in the enum's order, zeros included.
    pub by_status: Vec<(DefectStatus, u64)>,
    /// Every priority in the enum's order, zeros included.
    pub by_priority: Vec<(Priority, u64)>,
    pub overdue: u64,
    /// Mean of `closed_at - created_at` over CLOSED defects; `None` when there are none.
    pub avg_resolution_hours: Option<f64>,
}

impl Counts {
    /// A group without defects still lists every status and priority.
    pub fn zero() -> Self {
        Counts {
            total: 0,
            by_status: DefectStatus::iter().map(|s| (s, 0)).collect(),
            by_priority: Priority::iter().map(|p| (p, 0)).collect(),
            overdue: 0,
            avg_resolution_hours: None,
        }
    }

    pub fn status(&self, status: DefectStatus) -> u64 {
        self.by_status
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    }

    pub fn open(&self) -> u64 {
        DefectStatus::OPEN.iter().map(|s| self.status(*s)).sum()
    }
}

/// The sums, over a group, of whole seconds and of microsecond remainders from
/// `created_at` to `closed_at` of its CLOSED rows: the same exact integers as the
/// maintained aggregate keeps (`tally::closed_micros_sql` knows both backends).
fn closed_sums(backend: DbBackend) -> (Expr, Expr) {
    let us = super::tally::closed_micros_sql(backend);
    let cased =
        format!("CASE WHEN defects.status = 3 AND defects.closed_at IS NOT NULL THEN {us} END");
    (
        Expr::cust(format!(
            "CAST(COALESCE(SUM(({cased}) / 1000000), 0) AS BIGINT)"
        )),
        Expr::cust(format!(
            "CAST(COALESCE(SUM(({cased}) % 1000000), 0) AS BIGINT)"
        )),
    )
}

/// How many rows of a group are past their deadline on their project's today. FILTER is
/// a cheaper per-row test than CASE; the two backends mark the substituted expression
/// differently.
fn late_count(backend: DbBackend, todays: &Todays) -> Expr {
    let template = match backend {
        DbBackend::Postgres => "COUNT(*) FILTER (WHERE $1)",
        _ => "COUNT(*) FILTER (WHERE ?)",
    };
    Expr::cust_with_expr(
        template,
        todays.before_today(
            Expr::col((defects::Entity, Column::Deadline)),
            Expr::col((defects::Entity, Column::ProjectId)),
        ),
    )
}

/// Mean hours of a group's closing times, from their exact sums; `None` without CLOSED
/// defects. The one formula, so the aggregate and the full scan agree to the bit.
pub fn avg_hours(closed: u64, secs: i64, micros: i64) -> Option<f64> {
    let us = i128::from(secs) * 1_000_000 + i128::from(micros);
    (closed > 0).then(|| us as f64 / 3_600_000_000.0 / closed as f64)
}

/// One (key, status, priority) cell of counts, as a report statement returns it.
#[derive(Clone, Debug)]
pub struct Row {
    pub key: Option<i32>,
    pub status: DefectStatus,
    pub priority: Priority,
    pub n: i64,
    /// Past the deadline (counted as overdue for the open statuses only).
    pub late: i64,
    pub closed_secs: i64,
    pub closed_micros: i64,
}

/// Folds cells into counts per key, keeping the order in which keys first appear.
pub fn fold(rows: Vec<Row>) -> Vec<(Option<i32>, Counts)> {
    let mut out: Vec<(Option<i32>, Counts, u64, i64, i64)> = Vec::new();
    for r in rows {
        let i = match out.iter().position(|(k, ..)| *k == r.key) {
            Some(i) => i,
            None => {
                out.push((r.key, Counts::zero(), 0, 0, 0));
                out.len() - 1
            }
        };
        let (_, counts, closed, secs, micros) = &mut out[i];
        let n = u64::try_from(r.n).unwrap_or(0);
        counts.total += n;
        if DefectStatus::OPEN.contains(&r.status) {
            counts.overdue += u64::try_from(r.late).unwrap_or(0);
        }
        add(&mut counts.by_status, r.status, n);
        add(&mut counts.by_priority, r.priority, n);
        if r.status == DefectStatus::Closed {
            *closed += n;
            *secs += r.closed_secs;
            *micros += r.closed_micros;
        }
    }
    out.into_iter()
        .map(|(key, mut counts, closed, secs, micros)| {
            counts.avg_resolution_hours = avg_hours(closed, secs, micros);
            (key, counts)
        })
        .collect()
}

/// Counts over the visible defects matching `filter`, by scanning them: one entry, or one
/// per value of `group_by` that has defects (`None` is the key of rows where that column
/// is NULL), `overdue` by each project's today in `todays`. The reports read the maintained aggregate (`tally`) instead; this is the
/// reference it is checked against and the path for `from`/`to` bounds, which the
/// aggregate does not keep (docs/guide.md, Reports).
///
/// One statement: the database groups by (key,) status and priority — a few dozen rows,
/// read from a covering index on PostgreSQL — and the totals are folded here.
pub async fn aggregate(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    filter: &DefectFilter,
    group_by: Option<Column>,
    todays: &Todays,
) -> AppResult<Vec<(Option<i32>, Counts)>> {
    let (secs, micros) = closed_sums(db.get_database_backend());
    let mut q = visible_to(viewer)
        .filter(filter.condition(todays))
        .select_only()
        .column_as(Column::Status, "status")
        .column_as(Column::Priority, "priority")
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(late_count(db.get_database_backend(), todays), "late")
        .column_as(secs, "secs")
        .column_as(micros, "micros")
        .group_by(Column::Status)
        .group_by(Column::Priority);
    if let Some(col) = group_by {
        q = q.column_as(col, "key").group_by(col);
    }
    let mut rows = Vec::new();
    for r in db.query_all(&q.into_query()).await? {
        rows.push(Row {
            key: match group_by {
                Some(_) => r.try_get::<Option<i32>>("", "key")?,
                None => None,
            },
            status: DefectStatus::try_from_value(&r.try_get::<i16>("", "status")?)?,
            priority: Priority::try_from_value(&r.try_get::<i16>("", "priority")?)?,
            n: r.try_get("", "n")?,
            late: r.try_get("", "late")?,
            closed_secs: r.try_get("", "secs")?,
            closed_micros: r.try_get("", "micros")?,
        });
    }
    Ok(fold(rows))
}

fn add<T: PartialEq>(list: &mut [(T, u64)], which: T, n: u64) {
    if let Some(entry) = list.iter_mut().find(|(t, _)| *t == which) {
        entry.1 += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_group_lists_every_status_and_priority_in_order() {
        let z = Counts::zero();
        assert_eq!(
            z.by_status.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            [
                DefectStatus::New,
                DefectStatus::InProgress,
                DefectStatus::Review,
                DefectStatus::Closed,
                DefectStatus::Cancelled
            ]
        );
        assert_eq!(
            z.by_priority.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            [Priority::Low, Priority::Medium, Priority::High]
        );
        assert_eq!((z.total, z.open(), z.avg_resolution_hours), (0, 0, None));
    }

    #[test]
    fn open_is_new_in_progress_and_review() {
        let mut c = Counts::zero();
        for (i, (_, n)) in c.by_status.iter_mut().enumerate() {
            *n = 10u64.pow(i as u32);
        }
        assert_eq!(c.open(), 111);
        assert_eq!(c.status(DefectStatus::Cancelled), 10_000);
    }
}
