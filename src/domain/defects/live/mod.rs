//! Live updates: what a subscription to the journal delivers. The journal is the source
//! of truth. One reader per process (`crate::live::Hub`) reads the events after the last
//! one it saw ([`tail`]) and, once per batch and for all subscribers at once, what each of
//! them may see of it ([`access`]); a subscription that starts from a cursor, or fell
//! behind, reads for itself ([`next`]) until it has caught up.
use crate::i18n::Msg;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Select,
};

mod access;
pub use access::{Access, Standing, Subscriber, access, access_of_users, access_to_defects};

use super::{activity::ActivityFilter, queries};
use crate::{
    auth::Viewer,
    domain::pagination::Cursor,
    entities::{defect_events, defects, enums::DefectEventKind},
    error::{AppError, AppResult},
};

/// Events one subscription reads per query while it catches up; it reads again at once
/// while a query comes back full.
pub const BATCH: u64 = 100;

/// Checks the arguments (a project or defect the viewer cannot see is NOT_FOUND) and
/// returns the id to start after: the `after` cursor's, else the newest event now.
pub async fn start(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &ActivityFilter,
    after: Option<&str>,
) -> AppResult<i32> {
    if let Some(p) = filter.project_id {
        crate::domain::projects::service::get(db, viewer, p).await?;
    }
    if let Some(d) = filter.defect_id {
        queries::visible_to(viewer)
            .filter(defects::Column::Id.eq(d))
            .one(db)
            .await?
            .ok_or_else(|| AppError::NotFound(Msg::DefectNotFound))?;
    }
    if let Some(raw) = after {
        return super::activity::after_id(&Cursor::decode(raw)?);
    }
    newest(db).await
}

/// The id of the newest event (0 when there is none).
pub async fn newest(db: &DatabaseConnection) -> AppResult<i32> {
    let newest = defect_events::Entity::find()
        .select_only()
        .column_as(defect_events::Column::Id.max(), "max")
        .into_tuple::<Option<i32>>()
        .one(db)
        .await?
        .flatten();
    Ok(newest.unwrap_or(0))
}

/// The next events after `last` matching `filter` that `viewer` is delivered now (see
/// [`delivered`]), oldest first (one subscription catching up).
pub async fn next(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &ActivityFilter,
    last: i32,
) -> AppResult<Vec<defect_events::Model>> {
    Ok(delivered(viewer)
        .filter(filter.condition())
        .filter(defect_events::Column::Id.gt(last))
        .order_by_asc(defect_events::Column::Id)
        .limit(BATCH)
        .all(db)
        .await?)
}

/// The events a subscription delivers to `viewer`: those of the defects it can see
/// (`activity::visible`), and the DELETED event of a deleted defect in its projects. A
/// deleted defect is visible to nobody, so without that exception its own DELETED event
/// would reach no one and a screen would keep showing it; the event says only that it
/// went (its `defect` is null). [`Access::sees`] is the same rule for the live batches.
fn delivered(viewer: &Viewer) -> Select<defect_events::Entity> {
    let ids = |q: Select<defects::Entity>| q.select_only().column(defects::Column::Id).into_query();
    let (live, deleted) = (
        ids(queries::visible_to(viewer)),
        ids(queries::deleted_visible_to(viewer)),
    );
    defect_events::Entity::find().filter(
        Condition::any()
            .add(defect_events::Column::DefectId.in_subquery(live))
            .add(
                Condition::all()
                    .add(defect_events::Column::Kind.eq(DefectEventKind::Deleted))
                    .add(defect_events::Column::DefectId.in_subquery(deleted)),
            ),
    )
}

/// Every event after `last`, oldest first, at most `limit` (the per-process reader;
/// visibility is decided per subscriber by [`Access`]).
pub async fn tail(
    db: &DatabaseConnection,
    last: i32,
    limit: u64,
) -> AppResult<Vec<defect_events::Model>> {
    Ok(defect_events::Entity::find()
        .filter(defect_events::Column::Id.gt(last))
        .order_by_asc(defect_events::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}
