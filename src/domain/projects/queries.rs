//! Visibility and list queries for projects. Reports and defect lists build on
//! [`visible_ids`].
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, Iterable, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Select,
    sea_query::{Expr, ExprTrait, SelectStatement, SimpleExpr},
};

use super::policy;
use crate::{
    auth::Viewer,
    domain::{pagination::Cursor, search},
    entities::{
        enums::{ProjectStatus, Role},
        project_members, projects, users,
    },
    error::AppResult,
};

/// The ids of the projects an engineer is a member of, or `None` when the viewer sees all.
pub fn visible_ids(viewer: &Viewer) -> Option<SelectStatement> {
    if policy::sees_all_projects(viewer.role) {
        return None;
    }
    Some(member_of(Expr::val(viewer.id)))
}

/// The ids of the projects `user` (a value or a column of the outer query) is a member of.
fn member_of(user: impl Into<SimpleExpr>) -> SelectStatement {
    project_members::Entity::find()
        .select_only()
        .column(project_members::Column::ProjectId)
        .filter(Expr::col((project_members::Entity, project_members::Column::UserId)).eq(user))
        .into_query()
}

/// [`visible_ids`]' rule for every row of a query over `users` at once (someone other
/// than the viewer, e.g. a defect's watchers): the user's role sees every project, or
/// the user is a member of `project` (a column of the outer query).
pub fn users_seeing(project: impl Into<SimpleExpr>) -> Condition {
    let everywhere: Vec<Role> = Role::iter()
        .filter(|r| policy::sees_all_projects(*r))
        .collect();
    Condition::any()
        .add(users::Column::Role.is_in(everywhere))
        .add(
            project
                .into()
                .in_subquery(member_of(Expr::col((users::Entity, users::Column::Id)))),
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
