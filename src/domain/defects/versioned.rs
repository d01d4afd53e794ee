//! The one write path for an existing defect: an optimistic
//! `UPDATE … WHERE id = ? AND version = ?`, for status moves the history row, the journal
//! event and the reports' aggregate (`reports::tally`), in one transaction. (Split from `service.rs`, which keeps the use cases.)
use std::collections::HashSet;

use crate::i18n::Msg;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    TransactionSession, TransactionTrait,
    sea_query::{Expr, ExprTrait, SimpleExpr},
};

use super::{
    journal::{self, About},
    watchers,
};
use crate::{
    auth::Viewer,
    domain::{notifications, reports::tally},
    entities::{
        defects::{self, Column},
        enums::{DefectEventKind, DefectStatus},
        status_changes,
    },
    error::{AppError, AppResult},
    time,
};

pub(super) fn check_version(defect: &defects::Model, expected: Option<i32>) -> AppResult<()> {
    match expected {
        Some(v) if v != defect.version => Err(stale(defect.version)),
        _ => Ok(()),
    }
}

fn stale(current: i32) -> AppError {
    AppError::Conflict(Msg::StaleVersion { version: current })
}

pub(super) async fn history(
    db: &impl ConnectionTrait,
    defect_id: i32,
    from: Option<DefectStatus>,
    to: DefectStatus,
    by: i32,
    comment: Option<String>,
) -> AppResult<i32> {
    let row = status_changes::ActiveModel {
        defect_id: Set(defect_id),
        from_status: Set(from),
        to_status: Set(to),
        changed_by: Set(by),
        changed_at: Set(time::now()),
        comment: Set(comment),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row.id)
}

/// A status move to record with the update.
pub(super) struct Move {
    pub(super) from: DefectStatus,
    pub(super) to: DefectStatus,
    pub(super) comment: Option<String>,
}

/// Applies `changes` to the defect at the version it was read at, bumping the version,
/// and journals the change as `kind` with the field diff of the row before and after;
/// zero rows means someone else wrote first: CONFLICT, and nothing changes. An UPDATED
/// or ASSIGNED write that changes no journalled field is a no-op: rolled back (no
/// version bump, no event) and the defect returned as it was.
pub(super) async fn write<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    viewer: &Viewer,
    defect: &defects::Model,
    changes: Vec<(Column, SimpleExpr)>,
    status_move: Option<Move>,
    kind: DefectEventKind,
) -> AppResult<defects::Model> {
    let txn = db.begin().await?;
    // The UPDATE is the transaction's first statement: on SQLite it takes the write lock
    // (waiting for a concurrent writer) before anything is read.
    let mut update = defects::Entity::update_many()
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(defect.id))
        .filter(Column::Version.eq(defect.version));
    for (col, value) in changes {
        update = update.col_expr(col, value);
    }
    if update.exec(&txn).await?.rows_affected != 1 {
        txn.rollback().await?;
        let current = defects::Entity::find_by_id(defect.id).one(db).await?;
        return Err(match current {
            Some(d) => stale(d.version),
            None => AppError::NotFound(Msg::DefectNotFound),
        });
    }
    let moved = status_move.is_some();
    let status_change_id = match status_move {
        Some(m) => Some(history(&txn, defect.id, Some(m.from), m.to, viewer.id, m.comment).await?),
        None => None,
    };
    let updated = defects::Entity::find_by_id(defect.id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::NotFound(Msg::DefectNotFound))?;
    let diff = journal::diff(Some(defect), &updated);
    if diff.is_empty() && matches!(kind, DefectEventKind::Updated | DefectEventKind::Assigned) {
        txn.rollback().await?;
        return Ok(defect.clone());
    }
    let about = About {
        status_change_id,
        ..About::default()
    };
    watchers::auto_watch(
        &txn,
        defect.id,
        watchers::joining(viewer.id, moved, defect, &updated),
    )
    .await?;
    journal::record(&txn, viewer.id, &updated, kind, &diff, about).await?;
    if matches!(kind, DefectEventKind::Deleted | DefectEventKind::Restored) {
        // The inbox hides a deleted defect's notifications at once (see there).
        notifications::visibility::refresh(&txn, &HashSet::from([defect.id])).await?;
    }
    // Last: the aggregate's rows are shared by concurrent writers; hold them briefly.
    tally::apply(&txn, Some(defect), Some(&updated)).await?;
    txn.commit().await?;
    Ok(updated)
}
