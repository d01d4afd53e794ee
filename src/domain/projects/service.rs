//! Use cases for projects and their members.
use crate::i18n::Msg;
use chrono::NaiveDate;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Set, TransactionTrait, sea_query::IntoCondition,
};

use super::{
    policy, queries,
    settings::{self, SlaRule},
};
use crate::{
    auth::Viewer,
    domain::{
        Patch,
        defects::keys,
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
    /// The defect-key prefix; see `defects::keys::code`.
    pub code: Option<String>,
    pub description: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub status: Option<ProjectStatus>,
    /// IANA zone; `UTC` when not given.
    pub time_zone: Option<String>,
    pub sla: Option<Vec<SlaRule>>,
    pub escalate_after_days: Option<i32>,
}

#[derive(Default)]
pub struct ProjectPatch {
    pub title: Patch<String>,
    pub code: Patch<String>,
    pub description: Patch<String>,
    pub start_date: Patch<NaiveDate>,
    pub end_date: Patch<NaiveDate>,
    pub status: Patch<ProjectStatus>,
    /// An explicit null is BAD_USER_INPUT (a project always has a zone).
    pub time_zone: Patch<String>,
    /// An explicit null removes every rule.
    pub sla: Patch<Vec<SlaRule>>,
    pub escalate_after_days: Patch<i32>,
}

pub(crate) fn require_manage(viewer: &Viewer) -> AppResult<()> {
    require(
        policy::can_manage(viewer.role),
        Msg::OnlyManagersChangeProjects,
    )
}

/// A project the viewer can see, or NOT_FOUND.
pub async fn get(db: &DatabaseConnection, viewer: &Viewer, id: i32) -> AppResult<projects::Model> {
    queries::visible_to(viewer)
        .filter(projects::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(Msg::ProjectNotFound))
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
    let time_zone = settings::time_zone(input.time_zone.as_deref().unwrap_or("UTC"))?;
    let sla = settings::sla(input.sla.as_deref().unwrap_or_default())?;
    let escalate_after_days = settings::escalate_after_days(input.escalate_after_days)?;
    let code = input.code.as_deref().map(keys::code).transpose()?;
    if let Some((_, folded)) = &code {
        code_free(db, folded, None).await?;
    }
    let (code, code_key) = code.unzip();
    let now = time::now();
    Ok(projects::ActiveModel {
        code: Set(code),
        code_key: Set(code_key),
        search_text: Set(search::normalize(&[&title, &description])),
        title: Set(title),
        description: Set(description),
        start_date: Set(input.start_date),
        end_date: Set(input.end_date),
        status: Set(input.status.unwrap_or(ProjectStatus::Active)),
        time_zone: Set(time_zone),
        sla: Set(sla),
        escalate_after_days: Set(escalate_after_days),
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
        next.status = s.ok_or_else(|| {
            AppError::BadUserInput(Msg::MustNotBeNull {
                field: "status".into(),
            })
        })?;
    }
    validate::date_range(next.start_date, next.end_date)?;
    if let Some(zone) = patch.time_zone {
        let zone = zone.ok_or_else(|| {
            AppError::BadUserInput(Msg::MustNotBeNull {
                field: "timeZone".into(),
            })
        })?;
        next.time_zone = settings::time_zone(&zone)?;
    }
    if let Some(rules) = patch.sla {
        next.sla = settings::sla(rules.as_deref().unwrap_or_default())?;
    }
    if let Some(days) = patch.escalate_after_days {
        next.escalate_after_days = settings::escalate_after_days(days)?;
    }
    let code = match patch.code {
        Some(c) => Some(new_code(db, &project, c.as_deref()).await?),
        None => None,
    };
    let mut am: projects::ActiveModel = project.into();
    if let Some((code, code_key)) = code {
        am.code = Set(code);
        am.code_key = Set(code_key);
    }
    am.search_text = Set(search::normalize(&[&next.title, &next.description]));
    am.title = Set(next.title);
    am.description = Set(next.description);
    am.start_date = Set(next.start_date);
    am.end_date = Set(next.end_date);
    am.status = Set(next.status);
    am.time_zone = Set(next.time_zone);
    am.sla = Set(next.sla);
    am.escalate_after_days = Set(next.escalate_after_days);
    am.updated_at = Set(time::now());
    let project = am.update(db).await?;
    crate::domain::notifications::clock::rearm_project(db, project.id).await?;
    Ok(project)
}

/// BAD_USER_INPUT naming `code` when another project has this code (in any case). The
/// unique index on `code_key` still decides a race between two writers.
async fn code_free(db: &DatabaseConnection, folded: &str, except: Option<i32>) -> AppResult<()> {
    let mut q = projects::Entity::find().filter(projects::Column::CodeKey.eq(folded));
    if let Some(id) = except {
        q = q.filter(projects::Column::Id.ne(id));
    }
    if q.count(db).await? > 0 {
        return Err(AppError::BadUserInput(Msg::CodeTaken {
            field: "code".into(),
        }));
    }
    Ok(())
}

/// The code an update sets (`None`: removed). A code is fixed once the project has
/// defects (deleted ones included: their keys were handed out); a project without a code
/// may get one at any time, which gives its existing defects keys.
async fn new_code(
    db: &DatabaseConnection,
    project: &projects::Model,
    raw: Option<&str>,
) -> AppResult<(Option<String>, Option<String>)> {
    let next = raw.map(keys::code).transpose()?;
    if next.as_ref().map(|(c, _)| c) == project.code.as_ref() {
        return Ok(next.unzip());
    }
    if project.code.is_some() {
        // Deleted ones too: a restore would bring their keys back.
        let has_defects = defects::Entity::find()
            .select_only()
            .column(defects::Column::Id)
            .filter(defects::Column::ProjectId.eq(project.id))
            .into_tuple::<i32>()
            .one(db)
            .await?
            .is_some();
        if has_defects {
            return Err(AppError::BadUserInput(Msg::CodeFixed {
                field: "code".into(),
            }));
        }
    }
    if let Some((_, folded)) = &next {
        code_free(db, folded, Some(project.id)).await?;
    }
    Ok(next.unzip())
}

/// The live and the deleted defects matching `of`. A deleted defect keeps its project
/// and stage from being deleted until an admin purges it: it can still be restored.
pub(super) async fn defects_left(
    db: &impl ConnectionTrait,
    of: impl IntoCondition,
) -> AppResult<(u64, u64)> {
    let of = of.into_condition();
    let all = defects::Entity::find().filter(of.clone()).count(db).await?;
    if all == 0 {
        return Ok((0, 0));
    }
    let deleted = defects::Entity::find()
        .filter(of)
        .filter(defects::Column::DeletedAt.is_not_null())
        .count(db)
        .await?;
    Ok((all - deleted, deleted))
}

/// Deletes a project with its stages and memberships; one that still has defects, live or
/// deleted, is CONFLICT.
pub async fn delete(db: &DatabaseConnection, viewer: &Viewer, id: i32) -> AppResult<i32> {
    let project = get(db, viewer, id).await?;
    require_manage(viewer)?;
    let txn = db.begin().await?;
    match defects_left(&txn, defects::Column::ProjectId.eq(project.id)).await? {
        (0, 0) => {}
        (0, deleted) => {
            return Err(AppError::Conflict(Msg::ProjectHasDeletedDefects {
                count: deleted,
            }));
        }
        (live, _) => {
            return Err(AppError::Conflict(Msg::ProjectHasDefects { count: live }));
        }
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
        .ok_or_else(|| AppError::NotFound(Msg::UserNotFound))?;
    if !user.is_active {
        return Err(AppError::BadUserInput(Msg::UserDeactivated {
            field: "userId".into(),
        }));
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
        return Err(AppError::Conflict(Msg::MemberPerforms { count: open }));
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
