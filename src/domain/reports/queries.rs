//! The one aggregate behind every report: conditional counts over the defects a viewer
//! can see, optionally grouped by a column, in a single statement.
use chrono::NaiveDate;
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DbBackend, Iterable, QueryFilter, QuerySelect,
    QueryTrait, sea_query::Expr,
};

use crate::{
    auth::Viewer,
    domain::defects::{filter::DefectFilter, queries::visible_to},
    entities::{
        defects::Column,
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

/// The sum, over a group, of hours from `created_at` to `closed_at` (rows without
/// `closed_at` add nothing). The backends spell date arithmetic differently; this is the
/// only place that knows how. Summing intervals and converting once per group is far
/// cheaper on PostgreSQL than converting every row.
fn closed_hours_sum(backend: DbBackend) -> Expr {
    Expr::cust(match backend {
        DbBackend::Postgres => {
            "CAST(EXTRACT(EPOCH FROM SUM(defects.closed_at - defects.created_at)) AS DOUBLE PRECISION) / 3600.0"
        }
        // SQLite keeps timestamps as RFC 3339 text, which julianday() reads (in days).
        _ => "SUM((julianday(defects.closed_at) - julianday(defects.created_at)) * 24.0)",
    })
}

/// How many rows of a group are past their deadline on `today`. FILTER is a cheaper
/// per-row test than CASE; the two backends mark the substituted expression differently.
fn late_count(backend: DbBackend, today: NaiveDate) -> Expr {
    let template = match backend {
        DbBackend::Postgres => "COUNT(*) FILTER (WHERE $1)",
        _ => "COUNT(*) FILTER (WHERE ?)",
    };
    Expr::cust_with_expr(template, Column::Deadline.lt(today))
}

/// Counts over the visible defects matching `filter`: one entry, or one per value of
/// `group_by` that has defects (`None` is the key of rows where that column is NULL).
///
/// One statement: the database groups by (key,) status and priority — a few dozen rows,
/// read from a covering index on PostgreSQL — and the totals are folded here.
pub async fn aggregate(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    filter: &DefectFilter,
    group_by: Option<Column>,
    today: NaiveDate,
) -> AppResult<Vec<(Option<i32>, Counts)>> {
    let mut q = visible_to(viewer)
        .filter(filter.condition(today))
        .select_only()
        .column_as(Column::Status, "status")
        .column_as(Column::Priority, "priority")
        .column_as(Expr::cust("COUNT(*)"), "n")
        // Past the deadline; only the open statuses' groups count it as overdue (below).
        // FILTER is a cheaper per-row test than CASE on both backends.
        .column_as(late_count(db.get_database_backend(), today), "late")
        .column_as(closed_hours_sum(db.get_database_backend()), "hours")
        .group_by(Column::Status)
        .group_by(Column::Priority);
    if let Some(col) = group_by {
        q = q.column_as(col, "key").group_by(col);
    }
    let rows = db.query_all(&q.into_query()).await?;
    // Folded per key, keeping the order in which keys first appear.
    let mut out: Vec<(Option<i32>, Counts, u64, f64)> = Vec::new();
    for r in &rows {
        let key = match group_by {
            Some(_) => r.try_get::<Option<i32>>("", "key")?,
            None => None,
        };
        let status = DefectStatus::try_from_value(&r.try_get::<i16>("", "status")?)?;
        let priority = Priority::try_from_value(&r.try_get::<i16>("", "priority")?)?;
        let n = u64::try_from(r.try_get::<i64>("", "n")?).unwrap_or(0);
        let late = u64::try_from(r.try_get::<i64>("", "late")?).unwrap_or(0);
        let hours = r.try_get::<Option<f64>>("", "hours")?.unwrap_or(0.0);
        let i = match out.iter().position(|(k, ..)| *k == key) {
            Some(i) => i,
            None => {
                out.push((key, Counts::zero(), 0, 0.0));
                out.len() - 1
            }
        };
        let (_, counts, closed, closed_hours) = &mut out[i];
        counts.total += n;
        if DefectStatus::OPEN.contains(&status) {
            counts.overdue += late;
        }
        add(&mut counts.by_status, status, n);
        add(&mut counts.by_priority, priority, n);
        if status == DefectStatus::Closed {
            *closed += n;
            *closed_hours += hours;
        }
    }
    Ok(out
        .into_iter()
        .map(|(key, mut counts, closed, hours)| {
            counts.avg_resolution_hours = (closed > 0).then(|| hours / closed as f64);
            (key, counts)
        })
        .collect())
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
