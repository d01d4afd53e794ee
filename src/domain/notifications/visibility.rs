//! `notifications.defect_deleted`: whether a notification's defect is deleted now, so the
//! inbox applies `defects::queries::visible_to` without joining `defects` (the list and its
//! counts read one index of the viewer's own rows; migration
//! `m20261209_000001_notification_visibility`). The project half of the rule needs no copy:
//! a notification carries its defect's project, which never changes.
//!
//! Kept true in every order of commits: a row is inserted with its defect's state read in
//! the inserting transaction (`store.rs`); the defect's delete and restore set their
//! notifications in their own transaction; and the notification consumer, which handles
//! the journal in commit order, sets them again when it reaches the DELETED or RESTORED
//! event — after any row it inserted from a state read before that commit.
use std::collections::HashSet;

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, sea_query::Expr,
};

use crate::{
    entities::{defects, notifications},
    error::AppResult,
};

/// Of `defect_ids`, those deleted now.
pub async fn deleted_among(
    db: &impl ConnectionTrait,
    defect_ids: &HashSet<i32>,
) -> AppResult<HashSet<i32>> {
    if defect_ids.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(defects::Entity::find()
        .select_only()
        .column(defects::Column::Id)
        .filter(defects::Column::Id.is_in(defect_ids.iter().copied()))
        .filter(defects::Column::DeletedAt.is_not_null())
        .into_tuple::<i32>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Sets `defect_deleted` of the notifications of `defect_ids` to their defects' state now
/// (a purged defect's rows are gone with it). At most two statements, plus the read.
pub async fn refresh(db: &impl ConnectionTrait, defect_ids: &HashSet<i32>) -> AppResult<()> {
    if defect_ids.is_empty() {
        return Ok(());
    }
    let deleted = deleted_among(db, defect_ids).await?;
    let live: Vec<i32> = defect_ids.difference(&deleted).copied().collect();
    for (ids, value) in [
        (deleted.into_iter().collect::<Vec<_>>(), true),
        (live, false),
    ] {
        if ids.is_empty() {
            continue;
        }
        notifications::Entity::update_many()
            .col_expr(notifications::Column::DefectDeleted, Expr::value(value))
            .filter(notifications::Column::DefectId.is_in(ids))
            .filter(notifications::Column::DefectDeleted.ne(value))
            .exec(db)
            .await?;
    }
    Ok(())
}
