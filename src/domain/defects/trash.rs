//! Soft delete: `deleteDefect` marks a defect deleted and keeps everything on it;
//! managers list and restore deleted defects; admins purge one for good (rows and stored
//! objects). Hiding deleted defects from every other reader is `queries::visible_to`'s job.
use crate::i18n::Msg;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};
use serde_json::json;

use super::{attachments, policy, queries, service::get, versioned::write};
use crate::{
    auth::Viewer,
    domain::{
        pagination::{Cursor, Page, PageArgs},
        reports::tally,
        require,
    },
    entities::{
        defects::{self, Column},
        enums::DefectEventKind,
    },
    error::{AppError, AppResult},
    storage::Storage,
    time,
};

/// A soft-deleted defect in the viewer's projects, or NOT_FOUND.
async fn get_deleted(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i32,
) -> AppResult<defects::Model> {
    queries::deleted_visible_to(viewer)
        .filter(Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(Msg::DeletedDefectNotFound))
}

/// Marks a live defect deleted (managers and admins); comments, attachments and history
/// stay, so `restore` brings it back whole.
pub async fn delete(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i32,
) -> AppResult<defects::Model> {
    let defect = get(db, viewer, id).await?;
    require(policy::can_manage(viewer), Msg::OnlyManagersDelete)?;
    write(
        db,
        viewer,
        &defect,
        vec![(Column::DeletedAt, Expr::value(Some(time::now())))],
        None,
        DefectEventKind::Deleted,
    )
    .await
}

/// Brings a deleted defect back (managers and admins).
pub async fn restore(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i32,
) -> AppResult<defects::Model> {
    require(policy::can_restore(viewer), Msg::OnlyManagersRestore)?;
    let defect = get_deleted(db, viewer, id).await?;
    let none: Option<chrono::DateTime<chrono::Utc>> = None;
    write(
        db,
        viewer,
        &defect,
        vec![(Column::DeletedAt, Expr::value(none))],
        None,
        DefectEventKind::Restored,
    )
    .await
}

/// Removes a deleted defect for good (admins only): its row and, by the foreign keys'
/// cascade, its comments, attachments, history and journal; then its stored objects.
pub async fn purge(
    db: &DatabaseConnection,
    storage: &Storage,
    viewer: &Viewer,
    id: i32,
) -> AppResult<i32> {
    require(policy::can_purge(viewer), Msg::OnlyAdminsPurge)?;
    let defect = get_deleted(db, viewer, id).await?;
    let keys = attachments::keys_of_defect(db, defect.id).await?;
    // Only a still-deleted row goes: a concurrent restore wins over the purge.
    let gone = defects::Entity::delete_many()
        .filter(Column::Id.eq(defect.id))
        .filter(Column::DeletedAt.is_not_null())
        .exec(db)
        .await?;
    if gone.rows_affected != 1 {
        return Err(AppError::NotFound(Msg::DeletedDefectNotFound));
    }
    // A deleted defect is in no report: this adds nothing and costs no statement, but
    // keeps every change of a defect going through the aggregate's one entry.
    tally::apply(db, Some(&defect), None).await?;
    storage.delete_all(&keys).await;
    Ok(defect.id)
}

/// Deleted defects, most recently deleted rows first by id (managers and admins),
/// optionally of one project.
pub async fn list(
    db: &DatabaseConnection,
    viewer: &Viewer,
    project_id: Option<i32>,
    args: &PageArgs,
) -> AppResult<(Page<defects::Model>, u64)> {
    require(policy::can_restore(viewer), Msg::OnlyManagersDeleted)?;
    let mut q = queries::deleted_visible_to(viewer);
    if let Some(p) = project_id {
        q = q.filter(Column::ProjectId.eq(p));
    }
    let total = q.clone().count(db).await?;
    if let Some(c) = &args.after {
        q = q.filter(Column::Id.lt(c.id()?));
    }
    let rows = q
        .order_by_desc(Column::Id)
        .limit(args.first + 1)
        .all(db)
        .await?;
    Ok((
        Page::from_rows(rows, args, |d| Cursor(vec![json!(d.id)])),
        total,
    ))
}
