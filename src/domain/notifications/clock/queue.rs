//! The consumer `clock`: keeps `clock_queue` in step with the defects the journal says
//! changed. It reads the defects' current rows (not the events' values), so a batch
//! converges on the state at its end whatever happened in between, and a repeated batch
//! changes nothing.
use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect, Statement,
};

use crate::{
    domain::defects::journal::FieldChange,
    engine::{self, Consumer},
    entities::{
        defect_events, defects,
        enums::{DefectEventKind, DefectStatus},
    },
    error::AppResult,
};

pub struct Queue;

#[async_trait]
impl Consumer for Queue {
    fn name(&self) -> &'static str {
        "clock"
    }

    /// Three statements per batch whatever its size: the defects, one delete, one upsert.
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        events: &[defect_events::Model],
    ) -> AppResult<()> {
        let ids: BTreeSet<i32> = events
            .iter()
            .filter(|e| moves_the_clock(e))
            .map(|e| e.defect_id)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        sync(txn, ids).await
    }
}

/// Whether an event can change a defect's row in the queue (EVENTS.md: `changes` names
/// the GraphQL fields).
fn moves_the_clock(event: &defect_events::Model) -> bool {
    match event.kind {
        DefectEventKind::Created
        | DefectEventKind::StatusChanged
        | DefectEventKind::Deleted
        | DefectEventKind::Restored => true,
        DefectEventKind::Updated | DefectEventKind::Assigned => {
            match serde_json::from_str::<Vec<FieldChange>>(&event.changes) {
                Ok(changes) => changes
                    .iter()
                    .any(|c| c.field == "deadline" || c.field == "status"),
                Err(_) => true, // unreadable: look at the defect rather than miss it
            }
        }
        _ => false,
    }
}

/// Sets the queue rows of `ids` from the defects as they are now: an open, live defect
/// with a deadline has a row (a new or changed deadline arms it from `DUE_SOON`; an
/// unchanged one keeps its progress); any other defect, purged ones included, has none.
async fn sync(txn: &DatabaseTransaction, ids: BTreeSet<i32>) -> AppResult<()> {
    type Row = (
        i32,
        i32,
        DefectStatus,
        Option<NaiveDate>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = defects::Entity::find()
        .select_only()
        .column(defects::Column::Id)
        .column(defects::Column::ProjectId)
        .column(defects::Column::Status)
        .column(defects::Column::Deadline)
        .column(defects::Column::DeletedAt)
        .filter(defects::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(txn)
        .await?;
    let armed: Vec<(i32, i32, NaiveDate)> = rows
        .into_iter()
        .filter(|&(_, _, status, _, deleted)| {
            deleted.is_none() && DefectStatus::OPEN.contains(&status)
        })
        .filter_map(|(id, project, _, deadline, _)| Some((id, project, deadline?)))
        .collect();
    let gone: Vec<i32> = ids
        .iter()
        .copied()
        .filter(|id| !armed.iter().any(|a| a.0 == *id))
        .collect();
    let backend = txn.get_database_backend();
    if !gone.is_empty() {
        let marks = placeholders(backend, 1, gone.len());
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            format!("DELETE FROM clock_queue WHERE defect_id IN ({marks})"),
            gone.into_iter().map(Into::into),
        ))
        .await?;
    }
    if armed.is_empty() {
        return Ok(());
    }
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(armed.len() * 5);
    let mut tuples = Vec::with_capacity(armed.len());
    for (i, (id, project, deadline)) in armed.into_iter().enumerate() {
        let (stage, fire_on) = super::first(deadline);
        tuples.push(format!("({})", placeholders(backend, i * 5 + 1, 5)));
        values.extend([
            id.into(),
            project.into(),
            deadline.into(),
            stage.into(),
            fire_on.into(),
        ]);
    }
    // The WHERE keeps an unchanged deadline's progress (its steps already fired).
    let text = format!(
        "INSERT INTO clock_queue (defect_id, project_id, deadline, stage, fire_on) VALUES {} \
         ON CONFLICT (defect_id) DO UPDATE SET project_id = excluded.project_id, \
         deadline = excluded.deadline, stage = excluded.stage, fire_on = excluded.fire_on \
         WHERE clock_queue.deadline <> excluded.deadline",
        tuples.join(", ")
    );
    txn.execute_raw(Statement::from_sql_and_values(backend, text, values))
        .await?;
    Ok(())
}

/// `n` placeholders from the `first`th: `$3, $4` on PostgreSQL, `?, ?` on SQLite.
pub(super) fn placeholders(backend: DatabaseBackend, first: usize, n: usize) -> String {
    let marks: Vec<String> = (first..first + n).map(|k| format!("${k}")).collect();
    engine::sql(backend, &marks.join(", "))
}
