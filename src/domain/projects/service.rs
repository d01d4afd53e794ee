//! Use cases for projects and their members.
use chrono::NaiveDate;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect, Set, TransactionTrait,
};

use super::{policy, queries};
use crate::{
    auth::Viewer,
    domain::{
        Patch,
        pagination::{Page, PageArgs},
        require, search, validate,
    },
    entities::{
        defects,
        enums::{DefectStatus, ProjectStatus},
        project_members, projects, users,
    },
    error::{AppError, AppResult},
    time,
};

pub use queries::ProjectFilter;

pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 10_000;

pub struct NewProject {
    pub title: String,
    pub description: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub status: Option<ProjectStatus>,
}

#[derive(Default)]
pub struct ProjectPatch {
    pub title: Patch<String>,
    pub description: Patch<String>,
    pub start_date: Patch<NaiveDate>,
    pub end_date: Patch<NaiveDate>,
    pub status: Patch<ProjectStatus>,
}

pub(crate) fn require_manage(viewer: &Viewer) -> AppResult<()> {
    require(
        policy::can_manage(viewer.role),
        "only managers and admins may change projects",
    )
}

/// A project the viewer can see, or NOT_FOUND.
pub async fn get(db: &DatabaseConnection, viewer: &Viewer, id: i32) -> AppResult<projects::Model> {
    queries::visible_to(viewer)
        .filter(projects::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("project"))
}

pub async fn list(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &ProjectFilter,
    args: &PageArgs,
) -> AppResult<Page<projects::Model>> {
    validate::search(filter.search.as_deref())?;
    let rows = queries::page(viewer, filter, args.after.as_ref())?
        .limit(args.first + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, args, queries::cursor))
}

pub async fn count(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &ProjectFilter,
) -> AppResult<u64> {
    validate::search(filter.search.as_deref())?;
    Ok(queries::filtered(viewer, filter).count(db).await?)
}

pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    input: NewProject,
) -> AppResult<projects::Model> {
    require_manage(viewer)?;
    let title = validate::title("title", &input.title, TITLE_MAX)?;
    let description = validate::text(
        "description",
        input.description.as_deref().unwrap_or(""),
        DESCRIPTION_MAX,
    )?;
    validate::date_range(input.start_date, input.end_date)?;
    let now = time::now();
    Ok(projects::ActiveModel {
        search_text: Set(search::normalize(&[&title, &description])),
        title: Set(title),
        description: Set(description),
        start_date: Set(input.start_date),
        end_date: Set(input.end_date),
        status: Set(input.status.unwrap_or(ProjectStatus::Active)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i32,
    patch: ProjectPatch,
) -> AppResult<projects::Model> {
    let project = get(db, viewer, id).await?;
    require_manage(viewer)?;
    let mut next = project.clone();
    if let Some(title) = patch.title {
        next.title = validate::title("title", title.as_deref().unwrap_or(""), TITLE_MAX)?;
    }
    if let Some(d) = patch.description {
        next.description =
            validate::text("description", d.as_deref().unwrap_or(""), DESCRIPTION_MAX)?;
    }
    if let Some(d) = patch.start_date {
        next.start_date = d;
    }
    if let Some(d) = patch.end_date {
        next.end_date = d;
    }
    if let Some(s) = patch.status {
        next.status = s.ok_or_else(|| AppError::bad_input("status", "must not be null"))?;
    }
    validate::date_range(next.start_date, next.end_date)?;
    let mut am: projects::ActiveModel = project.into();
    am.search_text = Set(search::normalize(&[&next.title, &next.description]));
    am.title = Set(next.title);
    am.description = Set(next.description);
    am.start_date = Set(next.start_date);
    am.end_date = Set(next.end_date);
    am.status = Set(next.status);
    am.updated_at = Set(time::now());
    Ok(am.update(db).await?)
}

/// Deletes a project with its stages and memberships; one that still has defects is CONFLICT.
pub async fn delete(db: &DatabaseConnection, viewer: &Viewer, id: i32) -> AppResult<i32> {
    let project = get(db, viewer, id).await?;
    require_manage(viewer)?;
    let txn = db.begin().await?;
    let defects = defects::Entity::find()
        .filter(defects::Column::ProjectId.eq(project.id))
        .count(&txn)
        .await?;
    if defects > 0 {
        return Err(AppError::Conflict(format!(
            "the project still has {defects} defect(s); delete or move them first"
        )));
    }
    projects::Entity::delete_by_id(project.id)
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(project.id)
}

pub async fn add_member(
    db: &DatabaseConnection,
    viewer: &Viewer,
    project_id: i32,
    user_id: i32,
) -> AppResult<projects::Model> {
    let project = get(db, viewer, project_id).await?;
    require_manage(viewer)?;
    let user = users::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("user"))?;
    if !user.is_active {
        return Err(AppError::bad_input("userId", "the user is deactivated"));
    }
    // Adding an existing member is a no-op, not an error.
    project_members::Entity::insert(project_members::ActiveModel {
        project_id: Set(project.id),
        user_id: Set(user.id),
        created_at: Set(time::now()),
    })
    .on_conflict_do_nothing()
    .exec(db)
    .await?;
    Ok(project)
}

/// Removes a membership; refused while the user performs open defects in the project.
pub async fn remove_member(
    db: &DatabaseConnection,
    viewer: &Viewer,
    project_id: i32,
    user_id: i32,
) -> AppResult<projects::Model> {
    let project = get(db, viewer, project_id).await?;
    require_manage(viewer)?;
    let txn = db.begin().await?;
    let open = defects::Entity::find()
        .filter(defects::Column::ProjectId.eq(project.id))
        .filter(defects::Column::PerformerId.eq(user_id))
        .filter(defects::Column::Status.is_in(DefectStatus::OPEN))
        .count(&txn)
        .await?;
    if open > 0 {
        return Err(AppError::Conflict(format!(
            "the user performs {open} open defect(s) in this project; reassign them first"
        )));
    }
    project_members::Entity::delete_many()
        .filter(project_members::Column::ProjectId.eq(project.id))
        .filter(project_members::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(project)
}

pub async fn is_member(
    db: &impl sea_orm::ConnectionTrait,
    project_id: i32,
    user_id: i32,
) -> AppResult<bool> {
    Ok(project_members::Entity::find_by_id((project_id, user_id))
        .select_only()
        .column(project_members::Column::UserId)
        .into_tuple::<i32>()
        .one(db)
        .await?
        .is_some())
}
