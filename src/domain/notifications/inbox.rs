//! The inbox (NOTIFY.md, "Reading"): a viewer's own notifications, only those whose
//! defect the viewer can see now (`defects::queries::visible_to`), newest first; marking
//! them read. The live reader (`crate::inbox_live`) and its subscriptions read through
//! [`tail`] and [`next`].
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Select, sea_query::Expr,
};
use serde_json::json;

use crate::{
    auth::Viewer,
    domain::{
        pagination::{Cursor, Page, PageArgs},
        projects, validate,
    },
    entities::notifications,
    error::{AppError, AppResult},
    i18n::Msg,
    time,
};

/// Ids one `markNotificationsRead` may name.
pub const MAX_IDS: usize = 500;
/// Notifications one subscription reads per query while it catches up.
pub const BATCH: u64 = 100;

/// The viewer's own notifications about defects it can see now: the rule of
/// `defects::queries::visible_to` (live, in a project the viewer sees) on the row's own
/// copies of its defect's state and project (`visibility.rs`), so that the list and its
/// counts read one index of the viewer's rows and join nothing.
fn mine(viewer: &Viewer) -> Select<notifications::Entity> {
    let q = notifications::Entity::find()
        .filter(notifications::Column::UserId.eq(viewer.id))
        .filter(notifications::Column::DefectDeleted.eq(false));
    match projects::queries::visible_ids(viewer) {
        Some(ids) => q.filter(notifications::Column::ProjectId.in_subquery(ids)),
        None => q,
    }
}

/// A notification's cursor: its id (newest first in the list, oldest first live).
pub fn cursor(n: &notifications::Model) -> Cursor {
    Cursor(vec![json!(n.id)])
}

/// The id a cursor of [`cursor`] stands for.
pub fn after_id(raw: &str) -> AppResult<i32> {
    let c = Cursor::decode(raw)?;
    if c.len() != 1 {
        return Err(AppError::BadUserInput(Msg::BadCursor {
            field: "after".into(),
        }));
    }
    c.id()
}

/// How many the list holds in all and how many of the viewer's visible ones are unread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub unread: u64,
}

#[derive(FromQueryResult)]
struct CountRow {
    total: i64,
    unread: Option<i64>,
}

/// A page of the viewer's notifications, newest first (`unread_only`: those not read),
/// with the counts when `counts` (one more statement).
pub async fn list(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    args: &PageArgs,
    unread_only: bool,
    counts: bool,
) -> AppResult<(Page<notifications::Model>, Counts)> {
    let mut q = mine(viewer);
    if let Some(after) = &args.after {
        if after.len() != 1 {
            return Err(AppError::BadUserInput(Msg::BadCursor {
                field: "after".into(),
            }));
        }
        q = q.filter(notifications::Column::Id.lt(after.id()?));
    }
    if unread_only {
        q = q.filter(notifications::Column::ReadAt.is_null());
    }
    let rows = q
        .order_by_desc(notifications::Column::Id)
        .limit(args.first + 1)
        .all(db)
        .await?;
    let page = Page::from_rows(rows, args, cursor);
    let counts = if counts {
        count(db, viewer, unread_only).await?
    } else {
        Counts::default()
    };
    Ok((page, counts))
}

/// The list's total and the unread among the viewer's visible notifications, in one
/// statement (with `unread_only` both are the unread): `COUNT(*)` over the columns of the
/// index `(user_id, defect_deleted, project_id, read_at)`, an index-only scan on
/// PostgreSQL (`COUNT(id)` would read every row's heap tuple for its id).
async fn count(db: &impl ConnectionTrait, viewer: &Viewer, unread_only: bool) -> AppResult<Counts> {
    let row = mine(viewer)
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "total")
        .column_as(
            Expr::cust("SUM(CASE WHEN read_at IS NULL THEN 1 ELSE 0 END)"),
            "unread",
        )
        .into_model::<CountRow>()
        .one(db)
        .await?;
    let (total, unread) = row.map_or((0, 0), |r| (r.total, r.unread.unwrap_or(0)));
    let (total, unread) = (
        u64::try_from(total).unwrap_or(0),
        u64::try_from(unread).unwrap_or(0),
    );
    Ok(Counts {
        total: if unread_only { unread } else { total },
        unread,
    })
}

/// Marks the viewer's unread notifications read: those of `ids` (another user's id, or
/// one that is nobody's, changes nothing), or, without `ids`, every one the list shows.
/// Returns how many changed. More than [`MAX_IDS`] ids is BAD_USER_INPUT naming `ids`.
pub async fn mark_read(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    ids: Option<&[String]>,
) -> AppResult<u64> {
    let mut only = None;
    if let Some(ids) = ids {
        if ids.len() > MAX_IDS {
            return Err(AppError::BadUserInput(Msg::AtMostItems {
                field: "ids".into(),
                max: MAX_IDS,
            }));
        }
        let mut parsed: Vec<i32> = ids.iter().map(|s| validate::id_or_nothing(s)).collect();
        parsed.sort_unstable();
        parsed.dedup();
        parsed.retain(|&id| id > 0);
        if parsed.is_empty() {
            return Ok(0);
        }
        only = Some(parsed);
    }
    let mut update = notifications::Entity::update_many()
        .col_expr(notifications::Column::ReadAt, Expr::value(time::now()))
        .filter(notifications::Column::UserId.eq(viewer.id))
        .filter(notifications::Column::DefectDeleted.eq(false))
        .filter(notifications::Column::ReadAt.is_null());
    if let Some(projects) = projects::queries::visible_ids(viewer) {
        update = update.filter(notifications::Column::ProjectId.in_subquery(projects));
    }
    if let Some(only) = only {
        update = update.filter(notifications::Column::Id.is_in(only));
    }
    let done = update.exec(db).await?;
    Ok(done.rows_affected)
}

// ---- Live: what the reader and the subscriptions read.

/// The id of the newest notification of anyone (0 when there is none).
pub async fn newest(db: &impl ConnectionTrait) -> AppResult<i32> {
    let newest = notifications::Entity::find()
        .select_only()
        .column_as(notifications::Column::Id.max(), "max")
        .into_tuple::<Option<i32>>()
        .one(db)
        .await?
        .flatten();
    Ok(newest.unwrap_or(0))
}

/// Everyone's notifications after `last`, oldest first, at most `limit` (the process's
/// reader; each subscription keeps its own user's).
pub async fn tail(
    db: &impl ConnectionTrait,
    last: i32,
    limit: u64,
) -> AppResult<Vec<notifications::Model>> {
    Ok(notifications::Entity::find()
        .filter(notifications::Column::Id.gt(last))
        .order_by_asc(notifications::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The viewer's next notifications after `last` that the list would show now, oldest
/// first, at most [`BATCH`] (a subscription catching up).
pub async fn next(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    last: i32,
) -> AppResult<Vec<notifications::Model>> {
    Ok(mine(viewer)
        .filter(notifications::Column::Id.gt(last))
        .order_by_asc(notifications::Column::Id)
        .limit(BATCH)
        .all(db)
        .await?)
}
