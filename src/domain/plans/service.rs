//! Uploading, listing, opening and deleting plans. Storage and database stay
//! consistent the way attachments do: the row is written only after its object is
//! stored, an object whose row could not be written (or that the cap refused) is
//! removed, and a deleted row's object goes with it.
use crate::i18n::Msg;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Set, TransactionTrait, sea_query::LockType,
};

use crate::{
    auth::{Viewer, tokens::random_token},
    domain::{
        defects::{attachments::Upload, files},
        projects::service as projects,
        require, validate,
    },
    entities::{defects, plans, projects as project_rows},
    error::{AppError, AppResult},
    storage::{LinkSigner, Storage},
    time,
};

pub const TITLE_MAX: usize = 200;
/// Plans a project may hold: `Project.plans` is a plain list, so it stays bounded.
pub const MAX_PER_PROJECT: u64 = 200;

pub struct NewPlan {
    pub project_id: i32,
    pub stage_id: Option<i32>,
    pub title: String,
    pub file: Upload,
}

/// A plan whose project the viewer can see, or NOT_FOUND.
pub async fn get(db: &DatabaseConnection, viewer: &Viewer, id: i32) -> AppResult<plans::Model> {
    let mut q = plans::Entity::find_by_id(id);
    if let Some(ids) = crate::domain::projects::queries::visible_ids(viewer) {
        q = q.filter(plans::Column::ProjectId.in_subquery(ids));
    }
    q.one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(Msg::PlanNotFound))
}

/// Managers and admins: stores the file and its row. Same checks as an attachment's
/// upload (size, non-empty, type by content, image limits).
pub async fn upload(
    db: &DatabaseConnection,
    storage: &Storage,
    max_bytes: u64,
    viewer: &Viewer,
    input: NewPlan,
) -> AppResult<plans::Model> {
    let project = projects::get(db, viewer, input.project_id).await?;
    projects::require_manage(viewer)?;
    let title = validate::title("title", &input.title, TITLE_MAX)?;
    if let Some(stage) = input.stage_id {
        crate::domain::projects::stages::check_stage(
            db,
            project.id,
            stage,
            Msg::StageNotInProject {
                field: "stageId".into(),
            },
        )
        .await?;
    }
    // Early, so a full project costs no storage write; `insert_within_cap` decides.
    if count(db, project.id).await? >= MAX_PER_PROJECT {
        return Err(full());
    }
    // The image is its own preview: no thumbnail.
    let (filename, bytes, inspected) =
        files::accept(input.file, max_bytes, files::Thumbnail::Skip).await?;
    let key = format!("plans/{}/{}", project.id, random_token());
    storage.put(&key, bytes).await.map_err(AppError::internal)?;
    let row = plans::ActiveModel {
        project_id: Set(project.id),
        stage_id: Set(input.stage_id),
        title: Set(title),
        filename: Set(filename),
        content_type: Set(inspected.content_type.to_owned()),
        size: Set(i64::try_from(inspected.size).unwrap_or(i64::MAX)),
        sha256: Set(inspected.sha256),
        width: Set(inspected.width.map(|w| w as i32)),
        height: Set(inspected.height.map(|h| h as i32)),
        storage_key: Set(key.clone()),
        uploaded_by: Set(viewer.id),
        created_at: Set(time::now()),
        ..Default::default()
    };
    match insert_within_cap(db, row, project.id).await {
        Ok(row) => Ok(row),
        Err(e) => {
            storage.delete_all(std::slice::from_ref(&key)).await;
            Err(e)
        }
    }
}

fn full() -> AppError {
    AppError::BadUserInput(Msg::PlansPerProject {
        field: "projectId".into(),
        max: MAX_PER_PROJECT as usize,
    })
}

async fn count(db: &impl ConnectionTrait, project_id: i32) -> AppResult<u64> {
    Ok(plans::Entity::find()
        .filter(plans::Column::ProjectId.eq(project_id))
        .count(db)
        .await?)
}

/// Writes the row unless the project would then hold more than [`MAX_PER_PROJECT`]
/// plans, counting in the insert's transaction with concurrent uploads to the project
/// serialised, so parallel uploads cannot all pass the count together.
///
/// The INSERT comes first: on SQLite it takes the database's write lock before anything
/// is read (one writer at a time is all the serialising SQLite needs; it writes no lock
/// clause). On PostgreSQL the project row is locked next, `FOR NO KEY UPDATE`: the
/// INSERT's foreign key holds `FOR KEY SHARE` on it, which that lock does not conflict
/// with, so two uploads wait for each other instead of deadlocking, and the count after
/// it (a fresh snapshot under READ COMMITTED) sees every plan committed by an upload it
/// waited for.
async fn insert_within_cap(
    db: &DatabaseConnection,
    row: plans::ActiveModel,
    project_id: i32,
) -> AppResult<plans::Model> {
    let txn = db.begin().await?;
    let row = row.insert(&txn).await?;
    project_rows::Entity::find_by_id(project_id)
        .lock(LockType::NoKeyUpdate)
        .one(&txn)
        .await?;
    if count(&txn, project_id).await? > MAX_PER_PROJECT {
        txn.rollback().await?;
        return Err(full());
    }
    txn.commit().await?;
    Ok(row)
}

/// Managers and admins; CONFLICT while any defect (a deleted one too: it may come
/// back) is pinned to the plan. The count and the delete share one transaction.
pub async fn delete(
    db: &DatabaseConnection,
    storage: &Storage,
    viewer: &Viewer,
    id: i32,
) -> AppResult<i32> {
    let plan = get(db, viewer, id).await?;
    projects::require_manage(viewer)?;
    let txn = db.begin().await?;
    // The delete first: on SQLite it takes the write lock before the count reads.
    plans::Entity::delete_by_id(plan.id).exec(&txn).await?;
    let pinned = defects::Entity::find()
        .filter(defects::Column::PlanId.eq(plan.id))
        .count(&txn)
        .await?;
    if pinned > 0 {
        txn.rollback().await?;
        return Err(AppError::Conflict(Msg::PlanPinned { count: pinned }));
    }
    txn.commit().await?;
    storage
        .delete_all(std::slice::from_ref(&plan.storage_key))
        .await;
    Ok(plan.id)
}

/// A plan opened by a signed link (`exp`, `sig` from [`LinkSigner::plan_url`]): the link
/// is the authority. FORBIDDEN for a bad or expired link, checked before the row is read.
pub async fn open_signed(
    db: &DatabaseConnection,
    links: &LinkSigner,
    id: i32,
    exp: u64,
    sig: &str,
) -> AppResult<plans::Model> {
    require(
        links.verify_plan(id, exp, sig, time::unix_now()),
        Msg::BadLink,
    )?;
    plans::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(Msg::PlanNotFound))
}
