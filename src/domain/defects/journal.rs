//! The activity journal: every change to a defect writes one event in the change's
//! transaction. The field-level diff lives here once; every service calls [`record`]
//! (directly, or through `versioned::write`, which diffs the row before and after).
use crate::i18n::Msg;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QuerySelect, Set, Statement, sea_query::LockType,
};
use serde::{Deserialize, Serialize};

use crate::{
    entities::{attachments, defect_events, defects, enums::DefectEventKind},
    error::{AppError, AppResult},
    time,
};

/// One changed field: the GraphQL field name and the values as strings (EVENTS.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// What an ATTACHMENT_* event keeps of its attachment, so a removed one is still
/// described.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentMeta {
    pub id: i32,
    pub uploaded_by: i32,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub created_at: DateTime<Utc>,
}

impl AttachmentMeta {
    fn of(a: &attachments::Model) -> Self {
        AttachmentMeta {
            id: a.id,
            uploaded_by: a.uploaded_by,
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            size: a.size,
            sha256: a.sha256.clone(),
            width: a.width,
            height: a.height,
            created_at: a.created_at,
        }
    }

    /// The attachment as a row without stored objects (it was removed).
    pub fn into_row(self, defect_id: i32) -> attachments::Model {
        attachments::Model {
            id: self.id,
            defect_id,
            uploaded_by: self.uploaded_by,
            filename: self.filename,
            content_type: self.content_type,
            size: self.size,
            sha256: self.sha256,
            width: self.width,
            height: self.height,
            storage_key: String::new(),
            thumbnail_key: None,
            created_at: self.created_at,
        }
    }
}

/// An enum's contract name (`HIGH`, `IN_PROGRESS`), from its serde form.
fn enum_name(v: impl Serialize) -> Option<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => None,
    }
}

fn time_str(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

/// The journalled fields of a defect, as contract strings, in a fixed order.
/// The pin as one value: `{"plan":"<id>","x":…,"y":…,"label":…}` (JSON text).
fn location(d: &defects::Model) -> Option<String> {
    let plan = d.plan_id?;
    Some(
        serde_json::json!({
            "plan": plan.to_string(),
            "x": d.location_x,
            "y": d.location_y,
            "label": d.location_label,
        })
        .to_string(),
    )
}

fn fields(d: &defects::Model) -> [(&'static str, Option<String>); 10] {
    [
        ("number", Some(d.number.to_string())),
        ("title", Some(d.title.clone())),
        (
            "description",
            Some(d.description.clone()).filter(|s| !s.is_empty()),
        ),
        ("priority", enum_name(d.priority)),
        ("deadline", d.deadline.map(|x| x.to_string())),
        ("stage", d.stage_id.map(|x| x.to_string())),
        ("performer", d.performer_id.map(|x| x.to_string())),
        ("status", enum_name(d.status)),
        ("closedAt", d.closed_at.map(time_str)),
        ("location", location(d)),
    ]
}

/// The fields that differ between `before` and `after`; with no `before` (a new
/// defect), every field that has a value, `from: null`.
pub fn diff(before: Option<&defects::Model>, after: &defects::Model) -> Vec<FieldChange> {
    let old = before.map(fields);
    fields(after)
        .into_iter()
        .enumerate()
        .filter_map(|(i, (field, to))| {
            let from = old.as_ref().and_then(|o| o[i].1.clone());
            (from != to).then(|| FieldChange {
                field: field.to_owned(),
                from,
                to,
            })
        })
        .collect()
}

/// What an event is about besides the defect.
#[derive(Default)]
pub struct About<'a> {
    pub comment_id: Option<i32>,
    /// The history row of a status move (it carries the move's comment).
    pub status_change_id: Option<i32>,
    pub attachment: Option<&'a attachments::Model>,
}

/// The key of the transaction-scoped advisory lock that orders journal writes on
/// PostgreSQL (`b"dfctjrnl"` as a number; any fixed value unused elsewhere would do).
pub const ORDER_LOCK: i64 = 0x6466_6374_6a72_6e6c;

/// The `NOTIFY` channel that wakes every instance's journal reader after a commit.
pub const CHANNEL: &str = "defect_events";

/// On PostgreSQL, makes event ids commit in their order and wakes the other instances:
/// - `pg_advisory_xact_lock(ORDER_LOCK)`: one journal writer at a time from here until
///   the transaction ends. Ids come from a sequence when the row is inserted, so without
///   it transaction A could take id 10, B id 11, and B commit first; a reader that saw 11
///   never returns to 10. Holding the lock from before the insert to the commit means an
///   id is only handed out once every lower id has committed or rolled back, so readers
///   that follow `id > last` miss nothing (docs/ARCHITECTURE.md, "Live updates").
/// - `pg_notify(CHANNEL, '')`: delivered by PostgreSQL only if and when the transaction
///   commits (and after the commit is visible), so a listener never reads too early.
///
/// SQLite needs neither: it has one writer at a time and one process.
async fn order_and_notify(db: &impl ConnectionTrait) -> AppResult<()> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        db.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1), pg_notify($2, '')",
            [ORDER_LOCK.into(), CHANNEL.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Appends one event for `defect` (its state after the change) in the caller's
/// transaction. Call it as late as possible in the transaction: on PostgreSQL it holds
/// the journal's order lock until the commit (see `order_and_notify`).
/// For a write on a defect that updates no defect row (a comment, an attachment added or
/// removed): after that write, and before its event, check in the same transaction that
/// the defect is still live, holding its row until commit. Without it a comment read the
/// defect as live, a soft delete committed, and the comment committed after it (3 of 5
/// races in the issue 19 probe): an event on a deleted defect.
///
/// Call it after the transaction's first write: on SQLite that write took the database's
/// one write lock, so this read sees every committed delete and none can follow until
/// commit. On PostgreSQL `FOR SHARE` conflicts with the delete's row lock (an UPDATE,
/// `FOR NO KEY UPDATE`): a delete in flight is waited for and then seen (READ COMMITTED
/// reads the row again), and a later delete waits for this commit.
pub async fn hold_live(txn: &impl ConnectionTrait, defect_id: i32) -> AppResult<()> {
    defects::Entity::find_by_id(defect_id)
        .select_only()
        .column(defects::Column::Id)
        .filter(defects::Column::DeletedAt.is_null())
        .lock(LockType::Share)
        .into_tuple::<i32>()
        .one(txn)
        .await?
        .map(|_| ())
        .ok_or_else(|| AppError::NotFound(Msg::DefectNotFound))
}

pub async fn record(
    db: &impl ConnectionTrait,
    actor_id: i32,
    defect: &defects::Model,
    kind: DefectEventKind,
    changes: &[FieldChange],
    about: About<'_>,
) -> AppResult<()> {
    let changes = serde_json::to_string(changes).map_err(AppError::internal)?;
    let attachment = about
        .attachment
        .map(|a| serde_json::to_string(&AttachmentMeta::of(a)))
        .transpose()
        .map_err(AppError::internal)?;
    order_and_notify(db).await?;
    defect_events::ActiveModel {
        defect_id: Set(defect.id),
        project_id: Set(defect.project_id),
        actor_id: Set(actor_id),
        kind: Set(kind),
        at: Set(time::now()),
        changes: Set(changes),
        comment_id: Set(about.comment_id),
        status_change_id: Set(about.status_change_id),
        attachment_id: Set(about.attachment.map(|a| a.id)),
        attachment: Set(attachment),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The stored changes of an event (an unreadable value reads as none).
pub fn changes_of(event: &defect_events::Model) -> Vec<FieldChange> {
    serde_json::from_str(&event.changes).unwrap_or_default()
}

/// The stored attachment metadata of an ATTACHMENT_* event.
pub fn attachment_of(event: &defect_events::Model) -> Option<AttachmentMeta> {
    event
        .attachment
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::enums::{DefectStatus, Priority};

    fn defect() -> defects::Model {
        let now = chrono::Utc::now();
        defects::Model {
            id: 1,
            project_id: 1,
            number: 1,
            stage_id: None,
            title: "Crack".into(),
            description: String::new(),
            search_text: String::new(),
            priority: Priority::Medium,
            status: DefectStatus::New,
            performer_id: None,
            author_id: 1,
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
    fn a_new_defect_lists_its_given_fields_from_null() {
        let got = diff(None, &defect());
        let names: Vec<&str> = got.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(names, ["number", "title", "priority", "status"]);
        assert!(got.iter().all(|c| c.from.is_none()));
        assert_eq!(got[2].to.as_deref(), Some("MEDIUM"));
    }

    #[test]
    fn only_changed_fields_with_contract_strings() {
        let before = defect();
        let mut after = before.clone();
        after.deadline = chrono::NaiveDate::from_ymd_opt(2030, 1, 31);
        after.status = DefectStatus::InProgress;
        after.performer_id = Some(7);
        after.version = 2;
        after.search_text = "changed".into();
        let got = diff(Some(&before), &after);
        assert_eq!(
            got,
            vec![
                FieldChange {
                    field: "deadline".into(),
                    from: None,
                    to: Some("2030-01-31".into())
                },
                FieldChange {
                    field: "performer".into(),
                    from: None,
                    to: Some("7".into())
                },
                FieldChange {
                    field: "status".into(),
                    from: Some("NEW".into()),
                    to: Some("IN_PROGRESS".into())
                },
            ]
        );
        assert!(diff(Some(&before), &before.clone()).is_empty());
    }
}
