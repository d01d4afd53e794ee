//! Live updates: what a subscription to the journal delivers. The journal is the source
//! of truth; a subscription keeps the id of the last event it delivered and reads the
//! next ones on each wake-up (a notification after a commit, or a periodic poll), so a
//! missed wake-up only delays and a slow subscriber costs no memory.
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{activity::ActivityFilter, queries};
use crate::{
    auth::Viewer,
    domain::pagination::Cursor,
    entities::defect_events,
    error::{AppError, AppResult},
};

/// Events read per wake-up; a subscriber further behind reads again at once.
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
            .filter(crate::entities::defects::Column::Id.eq(d))
            .one(db)
            .await?
            .ok_or_else(|| AppError::not_found("defect"))?;
    }
    if let Some(raw) = after {
        return Cursor::decode(raw)?.id();
    }
    let newest = defect_events::Entity::find()
        .select_only()
        .column_as(defect_events::Column::Id.max(), "max")
        .into_tuple::<Option<i32>>()
        .one(db)
        .await?
        .flatten();
    Ok(newest.unwrap_or(0))
}

/// The next events after `last` matching `filter` that `viewer` can see now, oldest
/// first.
pub async fn next(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &ActivityFilter,
    last: i32,
) -> AppResult<Vec<defect_events::Model>> {
    Ok(super::activity::visible(viewer)
        .filter(filter.condition())
        .filter(defect_events::Column::Id.gt(last))
        .order_by_asc(defect_events::Column::Id)
        .limit(BATCH)
        .all(db)
        .await?)
}
