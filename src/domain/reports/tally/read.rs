//! Reading the aggregate for a report: one statement over `report_counts` and the
//! deadline rows, each project's `overdue` by its own today (see the module doc).
#[allow(clippy::wildcard_imports)]
use super::*;

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
