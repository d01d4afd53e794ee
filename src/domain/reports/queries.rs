//! The one aggregate behind every report: conditional counts over the defects a viewer
//! can see, optionally grouped by a column, in a single statement.
use chrono::NaiveDate;
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DbBackend, Iterable, QueryFilter, QuerySelect,
    QueryTrait,
    sea_query::{Expr, Func, IntoCondition},
};

use crate::{
    auth::Viewer,
    domain::defects::{
        filter::{DefectFilter, overdue_condition},
        queries::visible_to,
    },
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

/// `COUNT(CASE WHEN cond THEN 1 END)`: the rows that meet `cond`, 0 (never NULL) when none do.
fn count_if(cond: impl IntoCondition) -> Expr {
    Func::count(Expr::case(cond, 1)).into()
}

/// Hours from `created_at` to `closed_at`. The backends spell date arithmetic
/// differently; this is the only place that knows how.
fn hours_to_close(backend: DbBackend) -> Expr {
    Expr::cust(match backend {
        // EXTRACT yields numeric since PostgreSQL 14; the cast keeps AVG a float8.
        DbBackend::Postgres => {
            "CAST(EXTRACT(EPOCH FROM (defects.closed_at - defects.created_at)) AS DOUBLE PRECISION) / 3600.0"
        }
        // SQLite keeps timestamps as RFC 3339 text, which julianday() reads (in days).
        _ => "(julianday(defects.closed_at) - julianday(defects.created_at)) * 24.0",
    })
}

/// Counts over the visible defects matching `filter`: one row, or one per value of
/// `group_by` that has defects (`None` is the key of rows where that column is NULL).
pub async fn aggregate(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    filter: &DefectFilter,
    group_by: Option<Column>,
    today: NaiveDate,
) -> AppResult<Vec<(Option<i32>, Counts)>> {
    let closed = Column::Status.eq(DefectStatus::Closed.to_value());
    let mut q = visible_to(viewer)
        .filter(filter.condition(today))
        .select_only()
        .column_as(Column::Id.count(), "total")
        .column_as(count_if(overdue_condition(today)), "overdue")
        .column_as(
            Expr::from(Func::avg(Expr::case(
                closed,
                hours_to_close(db.get_database_backend()),
            ))),
            "avg_hours",
        );
    for (i, s) in DefectStatus::iter().enumerate() {
        q = q.column_as(
            count_if(Column::Status.eq(s.to_value())),
            format!("s{i}").as_str(),
        );
    }
    for (i, p) in Priority::iter().enumerate() {
        q = q.column_as(
            count_if(Column::Priority.eq(p.to_value())),
            format!("p{i}").as_str(),
        );
    }
    if let Some(col) = group_by {
        q = q.column_as(col, "key").group_by(col);
    }
    let rows = db.query_all(&q.into_query()).await?;
    let count = |r: &sea_orm::QueryResult, col: &str| -> AppResult<u64> {
        Ok(u64::try_from(r.try_get::<i64>("", col)?).unwrap_or(0))
    };
    rows.iter()
        .map(|r| {
            let key = match group_by {
                Some(_) => r.try_get::<Option<i32>>("", "key")?,
                None => None,
            };
            let mut by_status = Vec::new();
            for (i, s) in DefectStatus::iter().enumerate() {
                by_status.push((s, count(r, &format!("s{i}"))?));
            }
            let mut by_priority = Vec::new();
            for (i, p) in Priority::iter().enumerate() {
                by_priority.push((p, count(r, &format!("p{i}"))?));
            }
            let counts = Counts {
                total: count(r, "total")?,
                by_status,
                by_priority,
                overdue: count(r, "overdue")?,
                avg_resolution_hours: r.try_get::<Option<f64>>("", "avg_hours")?,
            };
            Ok((key, counts))
        })
        .collect()
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
