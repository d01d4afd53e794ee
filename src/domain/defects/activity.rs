//! Reading the journal: a defect's activity oldest first, and everyone's activity newest
//! first, narrowed by a filter. Only events of defects the viewer can see (live ones, in
//! visible projects: `queries::visible_to`) are shown.
use crate::i18n::Msg;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select,
};
use serde_json::json;

use super::queries;
use crate::{
    auth::Viewer,
    domain::pagination::{Cursor, Page, PageArgs},
    entities::{
        defect_events::{self, Column},
        defects,
        enums::DefectEventKind,
    },
    error::{AppError, AppResult},
};

#[derive(Default, Clone, Debug)]
pub struct ActivityFilter {
    pub project_id: Option<i32>,
    pub defect_id: Option<i32>,
    pub actor_id: Option<i32>,
    pub kinds: Option<Vec<DefectEventKind>>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl ActivityFilter {
    pub(super) fn condition(&self) -> Condition {
        let mut c = Condition::all();
        if let Some(p) = self.project_id {
            c = c.add(Column::ProjectId.eq(p));
        }
        if let Some(d) = self.defect_id {
            c = c.add(Column::DefectId.eq(d));
        }
        if let Some(a) = self.actor_id {
            c = c.add(Column::ActorId.eq(a));
        }
        if let Some(k) = &self.kinds {
            c = c.add(crate::domain::validate::one_of(Column::Kind, k));
        }
        if let Some(f) = self.from {
            c = c.add(Column::At.gte(f));
        }
        if let Some(t) = self.to {
            c = c.add(Column::At.lte(t));
        }
        c
    }

    /// Whether `event` passes the filter: [`Self::condition`] in Rust, for events already
    /// read (the live reader's batches).
    pub fn matches(&self, event: &defect_events::Model) -> bool {
        self.project_id.is_none_or(|p| event.project_id == p)
            && self.defect_id.is_none_or(|d| event.defect_id == d)
            && self.actor_id.is_none_or(|a| event.actor_id == a)
            && self.kinds.as_ref().is_none_or(|k| k.contains(&event.kind))
            && self.from.is_none_or(|f| event.at >= f)
            && self.to.is_none_or(|t| event.at <= t)
    }
}

/// The cursor of an event: its id (the journal's order).
pub fn cursor(e: &defect_events::Model) -> Cursor {
    Cursor(vec![json!(e.id)])
}

/// The event an `after` of `activity` or `defectEvents` stands for. An event's cursor is
/// its id alone; a cursor of another list (a sort key, then a row id) is refused rather
/// than read as an event id, which would resume at an unrelated place in the journal.
pub fn after_id(c: &Cursor) -> AppResult<i32> {
    if c.len() != 1 {
        return Err(AppError::BadUserInput(Msg::BadEventCursor {
            field: "after".into(),
        }));
    }
    c.id()
}

/// Events of the defects `viewer` can see.
pub(super) fn visible(viewer: &Viewer) -> Select<defect_events::Entity> {
    let ids = queries::visible_to(viewer)
        .select_only()
        .column(defects::Column::Id)
        .into_query();
    defect_events::Entity::find().filter(Column::DefectId.in_subquery(ids))
}

/// The activity of one defect the caller has already loaded through `visible_to`,
/// oldest first; the total when `want_total`.
pub async fn of_defect(
    db: &DatabaseConnection,
    defect_id: i32,
    args: &PageArgs,
    want_total: bool,
) -> AppResult<(Page<defect_events::Model>, u64)> {
    let q = defect_events::Entity::find().filter(Column::DefectId.eq(defect_id));
    let total = if want_total {
        q.clone().count(db).await?
    } else {
        0
    };
    let mut q = q;
    if let Some(c) = &args.after {
        q = q.filter(Column::Id.gt(after_id(c)?));
    }
    let rows = q
        .order_by_asc(Column::Id)
        .limit(args.first + 1)
        .all(db)
        .await?;
    Ok((Page::from_rows(rows, args, cursor), total))
}

/// Everyone's activity the viewer can see, newest first.
pub async fn list(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &ActivityFilter,
    args: &PageArgs,
    want_total: bool,
) -> AppResult<(Page<defect_events::Model>, u64)> {
    let q = visible(viewer).filter(filter.condition());
    let total = if want_total {
        q.clone().count(db).await?
    } else {
        0
    };
    let mut q = q;
    if let Some(c) = &args.after {
        q = q.filter(Column::Id.lt(after_id(c)?));
    }
    let rows = q
        .order_by_desc(Column::Id)
        .limit(args.first + 1)
        .all(db)
        .await?;
    Ok((Page::from_rows(rows, args, cursor), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_takes_an_event_cursor_only() {
        let c = Cursor::decode(&Cursor(vec![json!(42)]).encode()).unwrap();
        assert_eq!(after_id(&c).unwrap(), 42);
        // A defect list's cursor: a sort key, then the defect's id.
        assert!(after_id(&Cursor(vec![json!("2026-01-10T08:00:00Z"), json!(42)])).is_err());
        assert!(after_id(&Cursor(vec![])).is_err());
        assert!(after_id(&Cursor(vec![json!("42")])).is_err());
    }
}
