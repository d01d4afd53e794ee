//! The one write path for an existing defect: an optimistic
//! `UPDATE … WHERE id = ? AND version = ?` and, for status moves, the history row, in one
//! transaction. (Split from `service.rs`, which keeps the use cases.)
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set, TransactionTrait,
    sea_query::{Expr, ExprTrait, SimpleExpr},
};

use crate::{
    auth::Viewer,
    entities::{
        defects::{self, Column},
        enums::DefectStatus,
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
    AppError::Conflict(format!(
        "the defect was changed by someone else (now at version {current}); reload and try again"
    ))
}

pub(super) async fn history(
    db: &impl ConnectionTrait,
    defect_id: i32,
    from: Option<DefectStatus>,
    to: DefectStatus,
    by: i32,
    comment: Option<String>,
) -> AppResult<()> {
    status_changes::ActiveModel {
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
    Ok(())
}

/// A status move to record with the update.
pub(super) struct Move {
    pub(super) from: DefectStatus,
    pub(super) to: DefectStatus,
    pub(super) comment: Option<String>,
}

/// Applies `changes` to the defect at the version it was read at, bumping the version;
/// zero rows means someone else wrote first: CONFLICT, and nothing changes.
pub(super) async fn write(
    db: &DatabaseConnection,
    viewer: &Viewer,
    defect: &defects::Model,
    changes: Vec<(Column, SimpleExpr)>,
    status_move: Option<Move>,
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
            None => AppError::not_found("defect"),
        });
    }
    if let Some(m) = status_move {
        history(&txn, defect.id, Some(m.from), m.to, viewer.id, m.comment).await?;
    }
    let updated = defects::Entity::find_by_id(defect.id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("defect"))?;
    txn.commit().await?;
    Ok(updated)
}
