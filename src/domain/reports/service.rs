//! Report use cases: the role gate, the filter, and the rows reported on.
use crate::i18n::Msg;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use super::{
    policy,
    queries::{self, Counts},
    tally::{self, Group},
};
use crate::{
    auth::Viewer,
    domain::{
        defects::filter::DefectFilter,
        projects::{queries as projects_queries, site_time::Todays},
        require,
    },
    entities::{defects, enums::Role, projects, users},
    error::AppResult,
};

/// Narrows every report. `from`/`to` bound `created_at`, inclusive.
#[derive(Clone, Debug, Default)]
pub struct ReportFilter {
    pub project_id: Option<i32>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl ReportFilter {
    /// Whether the report scans the visible defects created in the range rather than
    /// read the maintained aggregate, which keeps no creation times: its cost grows with
    /// the data (the GraphQL schema charges it accordingly).
    pub fn scans(&self) -> bool {
        self.from.is_some() || self.to.is_some()
    }

    /// Reports count exactly what the defect list would show for the same bounds.
    pub fn defects(&self) -> DefectFilter {
        DefectFilter {
            project_id: self.project_id,
            created_from: self.from,
            created_to: self.to,
            ..Default::default()
        }
    }
}

pub fn check(viewer: &Viewer) -> AppResult<()> {
    require(policy::can_view(viewer.role), Msg::ReportsAudience)
}

/// Counts per `group` over the visible defects matching the filter: from the maintained
/// aggregate, or with `from`/`to` (which it does not keep) by scanning the defects
/// created in that range.
async fn counts(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &ReportFilter,
    group: Group,
) -> AppResult<Vec<(Option<i32>, Counts)>> {
    let now = crate::time::now();
    if !filter.scans() {
        return tally::read(db, viewer, filter.project_id, group, now).await;
    }
    let column = match group {
        Group::Nothing => None,
        Group::Project => Some(defects::Column::ProjectId),
        Group::Performer => Some(defects::Column::PerformerId),
    };
    let todays = Todays::load(db, now).await?;
    queries::aggregate(db, viewer, &filter.defects(), column, &todays).await
}

/// Counts over every visible defect that matches the filter.
pub async fn summary(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &ReportFilter,
) -> AppResult<Counts> {
    check(viewer)?;
    let rows = counts(db, viewer, filter, Group::Nothing).await?;
    Ok(rows
        .into_iter()
        .next()
        .map_or_else(Counts::zero, |(_, c)| c))
}

/// Matches aggregate rows to `keys`, giving zeros to keys without defects.
fn merge<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> i32,
    rows: Vec<(Option<i32>, Counts)>,
) -> Vec<(T, Counts)> {
    let mut by_key: HashMap<i32, Counts> = rows
        .into_iter()
        .filter_map(|(k, c)| k.map(|k| (k, c)))
        .collect();
    items
        .into_iter()
        .map(|t| {
            let c = by_key.remove(&key(&t)).unwrap_or_else(Counts::zero);
            (t, c)
        })
        .collect()
}

/// Every project the viewer can see, zero rows included, ordered by title. With
/// `projectId` only that project is listed: the others would show nothing but zeros.
pub async fn by_project(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &ReportFilter,
) -> AppResult<Vec<(projects::Model, Counts)>> {
    check(viewer)?;
    let mut q = projects_queries::visible_to(viewer);
    if let Some(id) = filter.project_id {
        q = q.filter(projects::Column::Id.eq(id));
    }
    let list = q
        .order_by_asc(projects::Column::Title)
        .order_by_asc(projects::Column::Id)
        .all(db)
        .await?;
    let rows = counts(db, viewer, filter, Group::Project).await?;
    Ok(merge(list, |p| p.id, rows))
}

/// Every active engineer, zero rows included, ordered by username; counts are over the
/// defects they perform.
pub async fn by_engineer(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &ReportFilter,
) -> AppResult<Vec<(users::Model, Counts)>> {
    check(viewer)?;
    let list = users::Entity::find()
        .filter(users::Column::Role.eq(Role::Engineer))
        .filter(users::Column::IsActive.eq(true))
        .order_by_asc(users::Column::Username)
        .order_by_asc(users::Column::Id)
        .all(db)
        .await?;
    let rows = counts(db, viewer, filter, Group::Performer).await?;
    Ok(merge(list, |u| u.id, rows))
}

/// A project card's counts: over the defects of each of `project_ids` that the viewer
/// can see, every asked project present (zeros for one without any). Not a report: any
/// role, since it counts only what the viewer's defect list shows for the project.
///
/// From the maintained aggregate, which is exact for every viewer here because visibility
/// is decided per project (`defects::queries::visible_to`: an engineer sees every live
/// defect of the projects he is a member of and nothing of others; everyone else sees all
/// live defects), and the aggregate holds exactly the live defects per project. Narrowed
/// by the same `visible_ids`, so a project the viewer cannot see counts nothing. One
/// statement for any number of projects.
pub async fn project_counts(
    db: &impl sea_orm::ConnectionTrait,
    viewer: &Viewer,
    project_ids: &[i32],
) -> AppResult<HashMap<i32, Counts>> {
    let mut out: HashMap<i32, Counts> =
        project_ids.iter().map(|id| (*id, Counts::zero())).collect();
    if project_ids.is_empty() {
        return Ok(out);
    }
    let now = crate::time::now();
    let rows = tally::read_in(db, viewer, Some(project_ids), Group::Project, now).await?;
    out.extend(rows.into_iter().filter_map(|(k, c)| k.map(|k| (k, c))));
    Ok(out)
}
