//! Who watches a defect (NOTIFY.md, "Watchers"). A row of `defect_watchers` with
//! `watching = true` is a watcher; `watching = false` is an explicit unwatch, which the
//! automatic rules never undo ([`auto_watch`] inserts only where there is no row yet).
//! Only `watchDefect` ([`set`]) turns it back on.
//!
//! The automatic rules, each called in the transaction of its change: the author and a
//! performer given at creation (`service::create`), the new performer of an assignment
//! and whoever moves the status (`versioned::write`, through [`joining`]), whoever
//! comments (`comments::add`). No one else.
use std::collections::{HashMap, HashSet};

use crate::i18n::Msg;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, JoinType, QueryFilter,
    QueryOrder, QuerySelect, SqlErr,
    sea_query::{Expr, OnConflict, Query},
};

use super::service;
use crate::{
    auth::Viewer,
    domain::projects::queries::users_seeing,
    entities::{
        defect_watchers::{self, Column as W},
        defects, users,
    },
    error::{AppError, AppResult},
    time,
};

/// Makes `users` watchers of the defect unless they have a row already (watching, or
/// unwatched explicitly: that sticks). One statement; none for no users.
pub async fn auto_watch(
    txn: &impl ConnectionTrait,
    defect_id: i32,
    users: impl IntoIterator<Item = i32>,
) -> AppResult<()> {
    let mut users: Vec<i32> = users.into_iter().collect();
    // Sorted: concurrent writers lock the rows in one order (PostgreSQL).
    users.sort_unstable();
    users.dedup();
    if users.is_empty() {
        return Ok(());
    }
    let now = time::now();
    let mut q = Query::insert();
    q.into_table(defect_watchers::Entity).columns([
        W::DefectId,
        W::UserId,
        W::Watching,
        W::CreatedAt,
    ]);
    for user in users {
        q.values([defect_id.into(), user.into(), true.into(), now.into()])
            .map_err(AppError::internal)?;
    }
    q.on_conflict(
        OnConflict::columns([W::DefectId, W::UserId])
            .do_nothing()
            .to_owned(),
    );
    txn.execute(&q).await?;
    Ok(())
}

/// Who a write to an existing defect (`versioned::write`) makes a watcher: the mover of
/// a status move, and the performer when the write made someone the performer.
pub(super) fn joining(
    viewer: i32,
    moved: bool,
    before: &defects::Model,
    after: &defects::Model,
) -> Vec<i32> {
    let assigned = after
        .performer_id
        .filter(|p| before.performer_id != Some(*p));
    moved
        .then_some(viewer)
        .into_iter()
        .chain(assigned)
        .collect()
}

/// `watchDefect` (`watching = true`) and `unwatchDefect` (`false`): for anyone who can see
/// the defect (else NOT_FOUND), idempotent. Not a change of the defect: no event, no
/// version.
pub async fn set(
    db: &DatabaseConnection,
    viewer: &Viewer,
    defect_id: i32,
    watching: bool,
) -> AppResult<defects::Model> {
    let defect = service::get(db, viewer, defect_id).await?;
    let mut q = Query::insert();
    q.into_table(defect_watchers::Entity)
        .columns([W::DefectId, W::UserId, W::Watching, W::CreatedAt])
        .values([
            defect.id.into(),
            viewer.id.into(),
            watching.into(),
            time::now().into(),
        ])
        .map_err(AppError::internal)?
        .on_conflict(
            OnConflict::columns([W::DefectId, W::UserId])
                .update_column(W::Watching)
                .to_owned(),
        );
    db.execute(&q).await.map_err(purged)?;
    Ok(defect)
}

/// The defect was purged between the read and the write: as if it had not been found.
fn purged(e: DbErr) -> AppError {
    match e.sql_err() {
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => AppError::NotFound(Msg::DefectNotFound),
        _ => e.into(),
    }
}

/// The watchers of each defect: active users watching it who can see it (the rule of
/// `queries::visible_to`, through `projects::queries::users_seeing`), by username. One
/// statement; every key has an entry.
pub async fn of_defects(
    db: &impl ConnectionTrait,
    defect_ids: &[i32],
) -> AppResult<HashMap<i32, Vec<users::Model>>> {
    let to_user = defect_watchers::Entity::belongs_to(users::Entity)
        .from(W::UserId)
        .to(users::Column::Id)
        .into();
    let to_defect = defect_watchers::Entity::belongs_to(defects::Entity)
        .from(W::DefectId)
        .to(defects::Column::Id)
        .into();
    let rows: Vec<(users::Model, Option<defect_watchers::Model>)> = users::Entity::find()
        .join_rev(JoinType::InnerJoin, to_user)
        .join(JoinType::InnerJoin, to_defect)
        .select_also(defect_watchers::Entity)
        .filter(W::DefectId.is_in(defect_ids.iter().copied()))
        .filter(W::Watching.eq(true))
        .filter(users::Column::IsActive.eq(true))
        .filter(users_seeing(Expr::col((
            defects::Entity,
            defects::Column::ProjectId,
        ))))
        .order_by_asc(users::Column::Username)
        .order_by_asc(users::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<i32, Vec<users::Model>> =
        defect_ids.iter().map(|id| (*id, Vec::new())).collect();
    for (user, watch) in rows {
        if let Some(w) = watch {
            out.entry(w.defect_id).or_default().push(user);
        }
    }
    Ok(out)
}

/// Which of `defect_ids` `user` watches. One statement.
pub async fn watched_by(
    db: &impl ConnectionTrait,
    user: i32,
    defect_ids: &[i32],
) -> AppResult<HashSet<i32>> {
    let ids: Vec<i32> = defect_watchers::Entity::find()
        .select_only()
        .column(W::DefectId)
        .filter(W::UserId.eq(user))
        .filter(W::Watching.eq(true))
        .filter(W::DefectId.is_in(defect_ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::enums::{DefectStatus, Priority};

    fn defect(performer: Option<i32>) -> defects::Model {
        let now = time::now();
        defects::Model {
            id: 1,
            project_id: 1,
            number: 1,
            stage_id: None,
            title: String::new(),
            description: String::new(),
            search_text: String::new(),
            priority: Priority::Medium,
            status: DefectStatus::New,
            performer_id: performer,
            author_id: 9,
            deadline: None,
            version: 1,
            created_at: now,
            updated_at: now,
            closed_at: None,
            deleted_at: None,
            plan_id: None,
            location_x: None,
            location_y: None,
            location_label: None,
        }
    }

    #[test]
    fn a_write_adds_the_mover_and_a_new_performer_only() {
        let cases = [
            // (moved, performer before, after, joining)
            (false, None, None, vec![]),
            (false, None, Some(5), vec![5]),
            (false, Some(4), Some(5), vec![5]),
            (false, Some(5), Some(5), vec![]),
            (false, Some(5), None, vec![]),
            (true, None, None, vec![7]),
            (true, Some(5), Some(5), vec![7]),
        ];
        for (moved, before, after, expected) in cases {
            assert_eq!(
                joining(7, moved, &defect(before), &defect(after)),
                expected,
                "moved={moved} {before:?}->{after:?}"
            );
        }
    }
}
