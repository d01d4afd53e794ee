//! The tick `clock`: fires the steps that are due and advances their rows.
//!
//! It reads only rows with `fire_on` up to the latest local date anywhere (the UTC
//! date + 1 covers UTC+14), through the `(fire_on, defect_id)` index, in keyset
//! batches; a row not yet due in its own zone (a UTC−11 site still on yesterday) is
//! read and left. So a tick costs in proportion to the rows due within a day, never to
//! the open defects. PostgreSQL's plan for [`DUE`] (`EXPLAIN`, 200,000 rows waiting
//! over two years, 30 projects): `Limit → Nested Loop → Index Scan using
//! idx_clock_queue_fire_on_defect_id on clock_queue q (Index Cond: fire_on <= $1 AND
//! ROW(fire_on, defect_id) > ROW($2, $3)) → Memoize → Index Scan using projects_pkey`;
//! with only a few hundred rows it prefers a sequential scan of the small table.
//!
//! Each batch runs in a transaction that holds the engine's `notifications` position,
//! as the journal's notification consumer does: the two writers of `notifications`
//! take turns, so notification ids commit in order for the live reader.
use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Days, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    FromQueryResult, QueryFilter, QuerySelect, Statement,
};

use super::{Next, advance, audience::Audience, queue::placeholders};
use crate::{
    domain::{
        notifications::store::{self, New},
        projects::site_time,
    },
    engine::{self, Tick},
    entities::{
        defects,
        enums::{DefectStatus, NotificationKind},
    },
    error::AppResult,
    time,
};

pub struct Clock {
    pub every: Duration,
    /// The server sends e-mail (SMTP is set).
    pub email: bool,
}

/// Rows per batch (one transaction holding `notifications`).
const BATCH: usize = 256;
/// Tries to take `notifications` from another instance's pass before leaving the work
/// to the next tick.
const TRIES: u32 = 5;

/// The due rows, with their project's zone and rule; `{after}` is empty or the keyset
/// cursor (`AFTER`).
const DUE: &str = "SELECT q.defect_id, q.project_id, q.deadline, q.stage, \
     p.time_zone, p.escalate_after_days, q.fire_on \
     FROM clock_queue q JOIN projects p ON p.id = q.project_id \
     WHERE q.fire_on <= $1{after} ORDER BY q.fire_on, q.defect_id LIMIT {limit}";
const AFTER: &str = " AND (q.fire_on, q.defect_id) > ($2, $3)";

#[derive(Debug, FromQueryResult)]
struct Due {
    defect_id: i32,
    project_id: i32,
    deadline: NaiveDate,
    stage: i16,
    time_zone: String,
    escalate_after_days: Option<i32>,
    fire_on: NaiveDate,
}

#[async_trait]
impl Tick for Clock {
    fn name(&self) -> &'static str {
        "clock"
    }

    fn every(&self) -> Duration {
        self.every
    }

    async fn run(&self, db: &DatabaseConnection) -> AppResult<()> {
        let now = time::now();
        let Some(horizon) = now.date_naive().checked_add_days(Days::new(1)) else {
            return Ok(());
        };
        let mut after = None;
        loop {
            let Some(claim) = claim(db).await? else {
                return Ok(()); // another instance holds it throughout: the next tick
            };
            let rows = due(&claim.txn, horizon, after).await?;
            let Some(last) = rows.last() else {
                claim.txn.rollback().await?;
                return Ok(());
            };
            after = Some((last.fire_on, last.defect_id));
            let full = rows.len() == BATCH;
            fire(&claim.txn, rows, now, self.email).await?;
            let position = claim.position;
            claim.commit(position).await?;
            if !full {
                return Ok(());
            }
        }
    }
}

/// The `notifications` position, retried shortly while another instance holds it.
async fn claim(db: &DatabaseConnection) -> AppResult<Option<engine::Claim>> {
    for attempt in 0..TRIES {
        if let Some(claim) = engine::claim(db, "notifications").await? {
            return Ok(Some(claim));
        }
        if attempt + 1 < TRIES {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(None)
}

async fn due(
    txn: &DatabaseTransaction,
    horizon: NaiveDate,
    after: Option<(NaiveDate, i32)>,
) -> AppResult<Vec<Due>> {
    let backend = txn.get_database_backend();
    let mut values = vec![horizon.into()];
    if let Some((fire_on, defect_id)) = after {
        values.extend([fire_on.into(), defect_id.into()]);
    }
    let text = DUE
        .replace("{after}", if after.is_some() { AFTER } else { "" })
        .replace("{limit}", &BATCH.to_string());
    Ok(Due::find_by_statement(Statement::from_sql_and_values(
        backend,
        engine::sql(backend, &text),
        values,
    ))
    .all(txn)
    .await?)
}

/// Fires the due steps of `rows` and writes their rows back: a constant number of
/// statements per batch (the defects, the audience, the notifications, one update and
/// one delete).
async fn fire(
    txn: &DatabaseTransaction,
    rows: Vec<Due>,
    now: DateTime<Utc>,
    email: bool,
) -> AppResult<()> {
    // The defects as they are now: a row the consumer has not caught up with yet (the
    // defect closed, deleted or given another deadline a moment ago) is left to it.
    let current: Vec<(i32, Option<NaiveDate>, Option<i32>)> = defects::Entity::find()
        .select_only()
        .column(defects::Column::Id)
        .column(defects::Column::Deadline)
        .column(defects::Column::PerformerId)
        .filter(defects::Column::Id.is_in(rows.iter().map(|r| r.defect_id)))
        .filter(defects::Column::DeletedAt.is_null())
        .filter(defects::Column::Status.is_in(DefectStatus::OPEN))
        .into_tuple()
        .all(txn)
        .await?;
    let current: HashMap<i32, (Option<NaiveDate>, Option<i32>)> = current
        .into_iter()
        .map(|(id, deadline, performer)| (id, (deadline, performer)))
        .collect();
    let mut steps = Vec::new();
    for row in rows {
        let performer = match current.get(&row.defect_id) {
            Some(&(deadline, performer)) if deadline == Some(row.deadline) => performer,
            _ => continue,
        };
        let today = site_time::today_in(site_time::zone(&row.time_zone), now);
        let (fired, next) = advance(row.stage, row.deadline, today, row.escalate_after_days);
        if fired.is_empty() && next == Next::Wait(row.stage, Some(row.fire_on)) {
            continue; // not yet due on its site
        }
        steps.push(Step {
            row,
            performer,
            fired,
            next,
        });
    }
    if steps.is_empty() {
        return Ok(());
    }
    let with = |kind| {
        steps
            .iter()
            .filter(move |s: &&Step| s.fired.contains(&kind))
    };
    let watched = with(NotificationKind::Overdue)
        .map(|s| s.row.defect_id)
        .collect();
    let managed = with(NotificationKind::Escalated)
        .map(|s| s.row.project_id)
        .collect();
    let performers = steps.iter().filter_map(|s| s.performer).collect();
    let projects = steps.iter().map(|s| s.row.project_id).collect();
    let audience = Audience::read(txn, &watched, &managed, &performers, &projects).await?;
    let mut news = Vec::new();
    let mut seen = HashSet::new();
    for step in &steps {
        for &kind in &step.fired {
            let dedupe = format!(
                "c:{}:{}:{}",
                sea_orm::ActiveEnum::to_value(&kind),
                step.row.defect_id,
                step.row.deadline
            );
            for user in step.recipients(kind, &audience) {
                if audience.reaches(user, step.row.project_id)
                    && seen.insert((user, dedupe.clone()))
                {
                    news.push(New {
                        user_id: user,
                        defect_id: step.row.defect_id,
                        project_id: step.row.project_id,
                        kind,
                        event_id: None,
                        actor_id: None,
                        deadline: Some(step.row.deadline),
                        dedupe: dedupe.clone(),
                    });
                }
            }
        }
    }
    store::insert(txn, news, email).await?;
    write_back(txn, &steps).await
}

/// A due row: what fired and what it waits for next.
struct Step {
    row: Due,
    performer: Option<i32>,
    fired: Vec<NotificationKind>,
    next: Next,
}

impl Step {
    /// Who `kind` is for, before the checks of [`Audience::reaches`].
    fn recipients(&self, kind: NotificationKind, audience: &Audience) -> Vec<i32> {
        let mut to: Vec<i32> = Vec::new();
        match kind {
            NotificationKind::DueSoon => to.extend(self.performer),
            NotificationKind::Overdue => {
                to.extend(self.performer);
                to.extend(
                    audience
                        .watchers
                        .get(&self.row.defect_id)
                        .into_iter()
                        .flatten(),
                );
            }
            _ => to.extend(
                audience
                    .managers
                    .get(&self.row.project_id)
                    .into_iter()
                    .flatten(),
            ),
        }
        to
    }
}

/// Advances the rows of `steps`: one UPDATE for those still waiting, one DELETE for
/// those done — each only while the row still has the deadline it was read with (the
/// consumer may have re-armed it meanwhile on another instance).
async fn write_back(txn: &DatabaseTransaction, steps: &[Step]) -> AppResult<()> {
    let backend = txn.get_database_backend();
    let mut waiting = Vec::new();
    let mut values: Vec<sea_orm::Value> = Vec::new();
    let mut done = Vec::new();
    let mut done_values: Vec<sea_orm::Value> = Vec::new();
    for Step { row, next, .. } in steps {
        match *next {
            Next::Wait(stage, fire_on) => {
                waiting.push(format!("({})", placeholders(backend, values.len() + 1, 4)));
                values.extend([
                    row.defect_id.into(),
                    row.deadline.into(),
                    stage.into(),
                    fire_on.into(),
                ]);
            }
            Next::Done => {
                let marks = placeholders(backend, done_values.len() + 1, 2);
                let (id, deadline) = marks.split_once(", ").unwrap_or_default();
                done.push(format!("(defect_id = {id} AND deadline = {deadline})"));
                done_values.extend([row.defect_id.into(), row.deadline.into()]);
            }
        }
    }
    if !waiting.is_empty() {
        let text = format!(
            "WITH v (defect_id, deadline, stage, fire_on) AS (VALUES {}) \
             UPDATE clock_queue SET stage = v.stage, fire_on = v.fire_on FROM v \
             WHERE clock_queue.defect_id = v.defect_id AND clock_queue.deadline = v.deadline",
            waiting.join(", ")
        );
        txn.execute_raw(Statement::from_sql_and_values(backend, text, values))
            .await?;
    }
    if !done.is_empty() {
        let text = format!("DELETE FROM clock_queue WHERE {}", done.join(" OR "));
        txn.execute_raw(Statement::from_sql_and_values(backend, text, done_values))
            .await?;
    }
    Ok(())
}
