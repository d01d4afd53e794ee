//! Visibility and list queries for projects. Reports and defect lists build on
//! [`visible_ids`].
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select,
    sea_query::SelectStatement,
};

use super::policy;
use crate::{
    auth::Viewer,
    domain::{pagination::Cursor, search},
    entities::{enums::ProjectStatus, project_members, projects},
    error::AppResult,
};

/// The ids of the projects an engineer is a member of, or `None` when the viewer sees all.
pub fn visible_ids(viewer: &Viewer) -> Option<SelectStatement> {
    if policy::sees_all_projects(viewer.role) {
        return None;
    }
    Some(
        project_members::Entity::find()
            .select_only()
            .column(project_members::Column::ProjectId)
            .filter(project_members::Column::UserId.eq(viewer.id))
            .into_query(),
    )
}

/// Every project the viewer may see.
pub fn visible_to(viewer: &Viewer) -> Select<projects::Entity> {
    let q = projects::Entity::find();
    match visible_ids(viewer) {
        Some(ids) => q.filter(projects::Column::Id.in_subquery(ids)),
        None => q,
    }
}

#[derive(Clone, Debug, Default)]
pub struct ProjectFilter {
    pub status: Option<ProjectStatus>,
    pub search: Option<String>,
}

pub fn filtered(viewer: &Viewer, filter: &ProjectFilter) -> Select<projects::Entity> {
    let mut q = visible_to(viewer);
    if let Some(status) = filter.status {
        q = q.filter(projects::Column::Status.eq(status));
    }
    if let Some(expr) = filter
        .search
        .as_deref()
        .and_then(|s| search::matches(projects::Column::SearchText, s))
    {
        q = q.filter(expr);
    }
    q
}

/// Ordered by title, then id.
pub fn page(
    viewer: &Viewer,
    filter: &ProjectFilter,
    after: Option<&Cursor>,
) -> AppResult<Select<projects::Entity>> {
    let mut q = filtered(viewer, filter);
    if let Some(c) = after {
        let (title, id) = (c.str(0)?, c.id()?);
        q = q.filter(
            Condition::any()
                .add(projects::Column::Title.gt(title.clone()))
                .add(
                    Condition::all()
                        .add(projects::Column::Title.eq(title))
                        .add(projects::Column::Id.gt(id)),
                ),
        );
    }
    Ok(q.order_by_asc(projects::Column::Title)
        .order_by_asc(projects::Column::Id))
}

pub fn cursor(p: &projects::Model) -> Cursor {
    Cursor(vec![p.title.clone().into(), p.id.into()])
}
