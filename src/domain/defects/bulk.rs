//! Bulk changes (FIELD.md "Bulk changes"): each id through the single mutation's own
//! service (`service::update`, `service::assign`, `service::change_status`), one
//! transaction per item, so an item's result, its journal events and the notifications
//! derived from them are what the single mutation would give. No rule lives here.
use std::collections::HashSet;

use chrono::NaiveDate;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait,
    sea_query::Expr,
};

use super::service::{self, DefectPatch};
use crate::{
    auth::Viewer,
    domain::{Patch, validate},
    entities::{
        defects::{self, Column},
        enums::{DefectStatus, Priority},
    },
    error::{AppError, AppResult},
    i18n::Msg,
};

/// Distinct ids per request: each is a transaction of its own, so the cost of one
/// request grows with this.
pub const MAX_IDS: usize = 200;

/// What `bulkUpdateDefects` sets: `updateDefect`'s fields and the performer
/// (`assignDefect`). `Some(None)` clears, as in the single mutations.
#[derive(Default)]
pub struct BulkPatch {
    pub stage_id: Patch<i32>,
    pub priority: Patch<Priority>,
    pub deadline: Patch<NaiveDate>,
    pub performer_id: Patch<i32>,
}

impl BulkPatch {
    fn has_fields(&self) -> bool {
        self.stage_id.is_some() || self.priority.is_some() || self.deadline.is_some()
    }
}

/// One id's outcome: the id as given and what its single mutation returned.
pub struct Item {
    pub id: String,
    pub outcome: AppResult<defects::Model>,
}

/// The ids as given, duplicates collapsed to the first (`"7"` and `"07"` are one
/// defect), with each one's number (NOT_FOUND for an id that is not ours, as the single
/// mutation says); more than [`MAX_IDS`]: BAD_USER_INPUT naming `ids`.
fn distinct(ids: Vec<String>) -> AppResult<Vec<(String, AppResult<i32>)>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for raw in ids {
        let parsed = validate::id(Msg::DefectNotFound, &raw);
        let key = match &parsed {
            Ok(n) => n.to_string(),
            Err(_) => format!("raw:{raw}"),
        };
        if !seen.insert(key) {
            continue;
        }
        if out.len() == MAX_IDS {
            return Err(AppError::BadUserInput(Msg::AtMostItems {
                field: "ids".into(),
                max: MAX_IDS,
            }));
        }
        out.push((raw, parsed));
    }
    Ok(out)
}

/// `changeDefectStatus(id, to, comment)` for each id.
pub async fn change_status(
    db: &DatabaseConnection,
    viewer: &Viewer,
    ids: Vec<String>,
    to: DefectStatus,
    comment: Option<String>,
) -> AppResult<Vec<Item>> {
    let mut out = Vec::new();
    for (raw, id) in distinct(ids)? {
        let outcome = match id {
            Ok(id) => service::change_status(db, viewer, id, to, comment.clone(), None).await,
            Err(e) => Err(e),
        };
        out.push(Item { id: raw, outcome });
    }
    Ok(out)
}

/// `updateDefect` with the patch's fields and, when it names a performer,
/// `assignDefect`, for each id; an empty patch is BAD_USER_INPUT.
pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    ids: Vec<String>,
    patch: BulkPatch,
) -> AppResult<Vec<Item>> {
    if !patch.has_fields() && patch.performer_id.is_none() {
        return Err(AppError::BadUserInput(Msg::EmptyPatch {
            field: "patch".into(),
        }));
    }
    let mut out = Vec::new();
    for (raw, id) in distinct(ids)? {
        let outcome = match id {
            Ok(id) => one(db, viewer, id, &patch).await,
            Err(e) => Err(e),
        };
        out.push(Item { id: raw, outcome });
    }
    Ok(out)
}

async fn one(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i32,
    patch: &BulkPatch,
) -> AppResult<defects::Model> {
    let fields = || DefectPatch {
        stage_id: patch.stage_id,
        priority: patch.priority,
        deadline: patch.deadline,
        ..DefectPatch::default()
    };
    match patch.performer_id {
        None => service::update(db, viewer, id, fields(), None).await,
        Some(performer) if !patch.has_fields() => {
            service::assign(db, viewer, id, performer, None).await
        }
        Some(performer) => {
            // Both: the update and the assignment (two journal events, as one by one)
            // in one transaction, each service's own nested in it, so a refused
            // assignment leaves the update undone too.
            let txn = db.begin().await?;
            lock(&txn, id).await?;
            let done = match service::update(&txn, viewer, id, fields(), None).await {
                Ok(_) => service::assign(&txn, viewer, id, performer, None).await,
                Err(e) => Err(e),
            };
            match done {
                Ok(d) => {
                    txn.commit().await?;
                    Ok(d)
                }
                Err(e) => {
                    txn.rollback().await?;
                    Err(e)
                }
            }
        }
    }
}

/// A write that changes nothing as the transaction's first statement: on SQLite it takes
/// the write lock before the services read (a read first would make the later UPDATE
/// fail when another writer commits in between), on PostgreSQL it holds the row.
async fn lock(txn: &impl ConnectionTrait, id: i32) -> AppResult<()> {
    defects::Entity::update_many()
        .col_expr(Column::Version, Expr::col(Column::Version))
        .filter(Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn duplicates_collapse_to_the_first() {
        let d = distinct(ids(&["3", "x", "03", "1", "x", "3"])).unwrap();
        let kept: Vec<&str> = d.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(kept, ["3", "x", "1"]);
        assert!(matches!(d[1].1, Err(AppError::NotFound(_))));
    }

    #[test]
    fn at_most_max_distinct_ids() {
        let ok: Vec<String> = (1..=MAX_IDS).map(|i| i.to_string()).collect();
        let mut repeated = ok.clone();
        repeated.extend(ok.clone());
        assert_eq!(distinct(repeated).unwrap().len(), MAX_IDS);
        let mut over = ok;
        over.push("999999".into());
        match distinct(over) {
            Err(AppError::BadUserInput(Msg::AtMostItems { field, max })) => {
                assert_eq!((field.as_str(), max), ("ids", MAX_IDS));
            }
            other => panic!("{:?}", other.map(|v| v.len())),
        }
    }
}
