//! Use cases for the stages of a project.
use crate::i18n::Msg;
use chrono::NaiveDate;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, Set, TransactionTrait,
    sea_query::{Expr, Func},
};

use super::service::{defects_left, get as get_project, require_manage};
use crate::{
    auth::Viewer,
    domain::{Patch, validate},
    entities::{defects, stages},
    error::{AppError, AppResult},
    time,
};

pub struct NewStage {
    pub title: String,
    pub description: Option<String>,
    pub position: Option<i32>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
}

#[derive(Default)]
pub struct StagePatch {
    pub title: Patch<String>,
    pub description: Patch<String>,
    pub position: Patch<i32>,
    pub start_date: Patch<NaiveDate>,
    pub end_date: Patch<NaiveDate>,
}

fn valid_position(p: i32) -> AppResult<i32> {
    if p < 0 {
        return Err(AppError::BadUserInput(Msg::MustNotBeNegative {
            field: "position".into(),
        }));
    }
    Ok(p)
}

/// A stage whose project the viewer can see, or NOT_FOUND.
pub async fn get(db: &DatabaseConnection, viewer: &Viewer, id: i32) -> AppResult<stages::Model> {
    let stage = stages::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(Msg::StageNotFound))?;
    get_project(db, viewer, stage.project_id)
        .await
        .map_err(|e| match e {
            AppError::NotFound(_) => AppError::NotFound(Msg::StageNotFound),
            other => other,
        })?;
    Ok(stage)
}

pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    project_id: i32,
    input: NewStage,
) -> AppResult<stages::Model> {
    let project = get_project(db, viewer, project_id).await?;
    require_manage(viewer)?;
    let title = validate::title("title", &input.title, 200)?;
    let description = validate::text(
        "description",
        input.description.as_deref().unwrap_or(""),
        10_000,
    )?;
    validate::date_range(input.start_date, input.end_date)?;
    let txn = db.begin().await?;
    let position = match input.position {
        Some(p) => valid_position(p)?,
        None => {
            // Appended after the last stage.
            let max: Option<i32> = stages::Entity::find()
                .select_only()
                .column_as(
                    Expr::from(Func::max(Expr::col(stages::Column::Position))),
                    "max",
                )
                .filter(stages::Column::ProjectId.eq(project.id))
                .into_tuple()
                .one(&txn)
                .await?
                .flatten();
            max.map_or(1, |m| m.saturating_add(1))
        }
    };
    let now = time::now();
    let stage = stages::ActiveModel {
        project_id: Set(project.id),
        title: Set(title),
        description: Set(description),
        position: Set(position),
        start_date: Set(input.start_date),
        end_date: Set(input.end_date),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(stage)
}

pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i32,
    patch: StagePatch,
) -> AppResult<stages::Model> {
    let stage = get(db, viewer, id).await?;
    require_manage(viewer)?;
    let mut next = stage.clone();
    if let Some(t) = patch.title {
        next.title = validate::title("title", t.as_deref().unwrap_or(""), 200)?;
    }
    if let Some(d) = patch.description {
        next.description = validate::text("description", d.as_deref().unwrap_or(""), 10_000)?;
    }
    if let Some(p) = patch.position {
        next.position = valid_position(p.ok_or_else(|| {
            AppError::BadUserInput(Msg::MustNotBeNull {
                field: "position".into(),
            })
        })?)?;
    }
    if let Some(d) = patch.start_date {
        next.start_date = d;
    }
    if let Some(d) = patch.end_date {
        next.end_date = d;
    }
    validate::date_range(next.start_date, next.end_date)?;
    let mut am: stages::ActiveModel = stage.into();
    am.title = Set(next.title);
    am.description = Set(next.description);
    am.position = Set(next.position);
    am.start_date = Set(next.start_date);
    am.end_date = Set(next.end_date);
    am.updated_at = Set(time::now());
    Ok(am.update(db).await?)
}

/// Deletes a stage; one that still has defects, live or deleted, is CONFLICT.
pub async fn delete(db: &DatabaseConnection, viewer: &Viewer, id: i32) -> AppResult<i32> {
    let stage = get(db, viewer, id).await?;
    require_manage(viewer)?;
    let txn = db.begin().await?;
    match defects_left(&txn, defects::Column::StageId.eq(stage.id)).await? {
        (0, 0) => {}
        (0, deleted) => {
            return Err(AppError::Conflict(Msg::StageHasDeletedDefects {
                count: deleted,
            }));
        }
        (live, _) => {
            return Err(AppError::Conflict(Msg::StageHasDefects { count: live }));
        }
    }
    stages::Entity::delete_by_id(stage.id).exec(&txn).await?;
    txn.commit().await?;
    Ok(stage.id)
}

/// BAD_USER_INPUT with `refusal` (naming `stageId`) unless the stage exists and belongs
/// to the project; shared by defects and plans.
pub async fn check_stage(
    db: &impl ConnectionTrait,
    project_id: i32,
    stage_id: i32,
    refusal: Msg,
) -> AppResult<()> {
    match stages::Entity::find_by_id(stage_id).one(db).await? {
        Some(s) if s.project_id == project_id => Ok(()),
        _ => Err(AppError::BadUserInput(refusal)),
    }
}
