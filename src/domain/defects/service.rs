//! Use cases for defects. Every write goes through [`versioned::write`]: one optimistic
//! `UPDATE … WHERE id = ? AND version = ?` and, for status moves, the history row, in one
//! transaction.
use crate::i18n::Msg;
use chrono::NaiveDate;
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, Iterable,
    PaginatorTrait, QueryFilter, QuerySelect, Select, TransactionTrait,
    sea_query::{Expr, SimpleExpr},
};

use super::{
    filter::{DefectFilter, DefectOrder},
    location::{self, LocationInput},
    policy, queries,
    transitions::{self, Mover, Refusal},
    versioned::{Move, check_version, write},
};
use crate::{
    auth::Viewer,
    domain::{
        Patch,
        pagination::{Page, PageArgs},
        projects::service::is_member,
        require, search, validate,
    },
    entities::{
        defects::{self, Column},
        enums::{DefectEventKind, DefectStatus, Priority, Role},
        users,
    },
    error::{AppError, AppResult},
    time,
};

pub const TITLE_MAX: usize = 300;
pub const DESCRIPTION_MAX: usize = 20_000;

pub use super::creation::{NewDefect, create};

#[derive(Default)]
pub struct DefectPatch {
    pub stage_id: Patch<i32>,
    pub title: Patch<String>,
    pub description: Patch<String>,
    pub priority: Patch<Priority>,
    pub deadline: Patch<NaiveDate>,
    /// The pin on a plan; `Some(None)` removes it.
    pub location: Patch<LocationInput>,
}

/// A defect the viewer can see, or NOT_FOUND.
pub async fn get(db: &impl ConnectionTrait, viewer: &Viewer, id: i32) -> AppResult<defects::Model> {
    queries::visible_to(viewer)
        .filter(Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(Msg::DefectNotFound))
}

pub async fn list(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &DefectFilter,
    order: DefectOrder,
    args: &PageArgs,
) -> AppResult<Page<defects::Model>> {
    filter.check()?;
    let todays = filter.todays(db).await?;
    let mut q = super::filter::filtered(queries::visible_to(viewer), filter, &todays);
    if let Some(c) = &args.after {
        q = q.filter(order.after(c)?);
    }
    let rows = order
        .apply(without_search_text(q))
        .limit(args.first + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, args, |d| order.cursor(d)))
}

/// A page of a list is only shown: its rows leave `search_text` (the lower-cased copy of
/// title and description, the widest column) empty instead of reading and decoding it.
fn without_search_text(q: Select<defects::Entity>) -> Select<defects::Entity> {
    q.select_only()
        .columns(Column::iter().filter(|c| !matches!(c, Column::SearchText)))
        .column_as(
            Expr::val(""),
            sea_orm::IdenStatic::as_str(&Column::SearchText),
        )
}

/// The number of defects `list` pages through: from the reports' aggregate when it can
/// answer the filter (`reports::tally::count`), else by counting the rows.
pub async fn count(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &DefectFilter,
) -> AppResult<u64> {
    filter.check()?;
    match crate::domain::reports::tally::count(db, viewer, filter).await? {
        Some(n) => Ok(n),
        None => count_rows(db, viewer, filter).await,
    }
}

/// `count` by counting the matching rows, whatever the filter (the reference the
/// aggregate's answer is tested against).
pub async fn count_rows(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &DefectFilter,
) -> AppResult<u64> {
    filter.check()?;
    let todays = filter.todays(db).await?;
    Ok(
        super::filter::filtered(queries::visible_to(viewer), filter, &todays)
            .count(db)
            .await?,
    )
}

pub(super) async fn check_stage(
    db: &impl ConnectionTrait,
    project_id: i32,
    stage_id: i32,
) -> AppResult<()> {
    crate::domain::projects::stages::check_stage(
        db,
        project_id,
        stage_id,
        Msg::StageNotInDefectProject {
            field: "stageId".into(),
        },
    )
    .await
}

pub(super) async fn check_performer(
    db: &impl ConnectionTrait,
    project_id: i32,
    user_id: i32,
) -> AppResult<()> {
    let field = "performerId";
    let user = users::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or_else(|| {
            AppError::BadUserInput(Msg::NoSuchUser {
                field: field.into(),
            })
        })?;
    if !user.is_active {
        return Err(AppError::BadUserInput(Msg::UserDeactivated {
            field: field.into(),
        }));
    }
    if user.role != Role::Engineer {
        return Err(AppError::BadUserInput(Msg::PerformerNotEngineer {
            field: field.into(),
        }));
    }
    if !is_member(db, project_id, user_id).await? {
        return Err(AppError::BadUserInput(Msg::PerformerNotMember {
            field: field.into(),
        }));
    }
    Ok(())
}

pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    viewer: &Viewer,
    id: i32,
    patch: DefectPatch,
    expected_version: Option<i32>,
) -> AppResult<defects::Model> {
    let defect = get(db, viewer, id).await?;
    require(policy::can_edit(viewer, &defect), Msg::OnlyOwnEdit)?;
    policy::refuse_final(&defect, |status| Msg::FinalNoEdit {
        field: "status".into(),
        status,
    })?;
    check_version(&defect, expected_version)?;
    let mut changes: Vec<(Column, SimpleExpr)> = Vec::new();
    let (mut title, mut description) = (defect.title.clone(), defect.description.clone());
    if let Some(t) = patch.title {
        title = validate::title("title", t.as_deref().unwrap_or(""), TITLE_MAX)?;
        changes.push((Column::Title, Expr::value(title.clone())));
    }
    if let Some(d) = patch.description {
        description = validate::text("description", d.as_deref().unwrap_or(""), DESCRIPTION_MAX)?;
        changes.push((Column::Description, Expr::value(description.clone())));
    }
    if changes
        .iter()
        .any(|(c, _)| matches!(c, Column::Title | Column::Description))
    {
        changes.push((
            Column::SearchText,
            Expr::value(search::normalize(&[&title, &description])),
        ));
    }
    if let Some(stage) = patch.stage_id {
        if let Some(s) = stage {
            check_stage(db, defect.project_id, s).await?;
        }
        changes.push((Column::StageId, Expr::value(stage)));
    }
    if let Some(p) = patch.priority {
        let p = p.ok_or_else(|| {
            AppError::BadUserInput(Msg::MustNotBeNull {
                field: "priority".into(),
            })
        })?;
        changes.push((Column::Priority, Expr::value(p.to_value())));
    }
    if let Some(d) = patch.deadline {
        changes.push((Column::Deadline, Expr::value(d)));
    }
    if let Some(l) = patch.location {
        let pin = match l {
            Some(l) => Some(location::check(db, defect.project_id, l).await?),
            None => None,
        };
        changes.extend(location::columns(pin.as_ref()));
    }
    write(db, viewer, &defect, changes, None, DefectEventKind::Updated).await
}

pub async fn assign<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    viewer: &Viewer,
    id: i32,
    performer_id: Option<i32>,
    expected_version: Option<i32>,
) -> AppResult<defects::Model> {
    let defect = get(db, viewer, id).await?;
    require(policy::can_manage(viewer), Msg::OnlyManagersAssign)?;
    policy::refuse_final(&defect, |status| Msg::FinalNoAssign {
        field: "status".into(),
        status,
    })?;
    check_version(&defect, expected_version)?;
    match performer_id {
        Some(p) => check_performer(db, defect.project_id, p).await?,
        None if defect.status != DefectStatus::New => {
            return Err(AppError::BadUserInput(Msg::NeedsPerformer {
                field: "performerId".into(),
            }));
        }
        None => {}
    }
    write(
        db,
        viewer,
        &defect,
        vec![(Column::PerformerId, Expr::value(performer_id))],
        None,
        DefectEventKind::Assigned,
    )
    .await
}

pub async fn change_status<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    viewer: &Viewer,
    id: i32,
    to: DefectStatus,
    comment: Option<String>,
    expected_version: Option<i32>,
) -> AppResult<defects::Model> {
    let defect = get(db, viewer, id).await?;
    // A stale version first: the caller acted on a state that no longer holds.
    check_version(&defect, expected_version)?;
    transitions::check(
        defect.status,
        to,
        Mover::of(viewer, &defect),
        defect.performer_id.is_some(),
    )
    .map_err(|r| match r {
        Refusal::Invalid(m) => AppError::InvalidTransition(m),
        Refusal::Forbidden(m) => AppError::Forbidden(m),
    })?;
    let comment = match comment.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => Some(validate::text("comment", c, DESCRIPTION_MAX)?),
    };
    let mut changes = vec![(Column::Status, Expr::value(to.to_value()))];
    if to == DefectStatus::Closed {
        changes.push((Column::ClosedAt, Expr::value(Some(time::now()))));
    }
    write(
        db,
        viewer,
        &defect,
        changes,
        Some(Move {
            from: defect.status,
            to,
            comment,
        }),
        DefectEventKind::StatusChanged,
    )
    .await
}
