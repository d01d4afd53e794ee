//! Deliveries derived from the journal: the engine's consumer `webhooks` writes one
//! PENDING row per (matching webhook, event) in the pass's transaction, so each event
//! is queued exactly once per webhook; a webhook's oldest PENDING row is its head and
//! the only one with a job (`jobs` kind [`JOB`], dedupe `webhook:<delivery id>`): a
//! failing head holds the later ones back until it is DELIVERED or FAILED, and its
//! outcome queues the next head in the same transaction ([`record`]).
use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};

use super::policy;
use crate::{
    domain::{
        defects::live,
        pagination::{Page, PageArgs},
    },
    engine::{Consumer, jobs, rows_of, sql},
    entities::{defect_events, enums::Role, users, webhook_deliveries, webhooks},
    error::AppResult,
    time,
};

/// The consumer's name: its row in `engine_positions`.
pub const NAME: &str = "webhooks";
/// The job kind of a webhook's head delivery.
pub const JOB: &str = "webhook";

pub const PENDING: &str = "PENDING";
pub const DELIVERED: &str = "DELIVERED";
pub const FAILED: &str = "FAILED";

/// The journal consumer that queues deliveries.
pub struct Derive;

#[async_trait]
impl Consumer for Derive {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        events: &[defect_events::Model],
    ) -> AppResult<()> {
        let mut find = webhooks::Entity::find().filter(webhooks::Column::Active.eq(true));
        if txn.get_database_backend() == DatabaseBackend::Postgres {
            // Held to the commit: a replay of one of them waits (see `lock`).
            find = find.lock_exclusive();
        }
        let hooks = find.all(txn).await?;
        let rows = matching(txn, &hooks, events).await?;
        insert(txn, &rows).await
    }
}

/// The (webhook, event) pairs to deliver: the webhook's scope and kinds match, and its
/// creator, active, reaches the event now (`policy::reach`, `live::Access::sees`).
pub async fn matching(
    db: &impl ConnectionTrait,
    hooks: &[webhooks::Model],
    events: &[defect_events::Model],
) -> AppResult<Vec<(i32, i32)>> {
    if hooks.is_empty() || events.is_empty() {
        return Ok(Vec::new());
    }
    let reach = reach_of(db, hooks.iter().map(|h| h.created_by).collect()).await?;
    let audience: Vec<(i32, Role)> = reach.iter().map(|(&u, &r)| (u, r)).collect();
    let access = live::access_of_users(db, &audience, events).await?;
    let kinds: Vec<Vec<String>> = hooks.iter().map(super::kinds_of).collect();
    let mut rows = Vec::new();
    for event in events {
        let kind = super::kind_name(event.kind);
        for (hook, kinds) in hooks.iter().zip(&kinds) {
            let Some(&role) = reach.get(&hook.created_by) else {
                continue;
            };
            if policy::matches(hook.project_id, kinds, event.project_id, &kind)
                && access.sees(hook.created_by, role, event)
            {
                rows.push((hook.id, event.id));
            }
        }
    }
    Ok(rows)
}

/// The active users among `ids`, with the role their reach is checked as.
pub async fn reach_of(
    db: &impl ConnectionTrait,
    ids: BTreeSet<i32>,
) -> AppResult<HashMap<i32, Role>> {
    Ok(users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .column(users::Column::Role)
        .filter(users::Column::Id.is_in(ids))
        .filter(users::Column::IsActive.eq(true))
        .into_tuple::<(i32, Role)>()
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(id, role)| policy::reach(role).map(|r| (id, r)))
        .collect())
}

/// Inserts PENDING rows for `(webhook, event)` pairs (in that order: ids follow the
/// journal per webhook) and queues the heads of the webhooks touched.
pub async fn insert(db: &impl ConnectionTrait, rows: &[(i32, i32)]) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let now = time::now();
    for chunk in rows.chunks(1000) {
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * 5);
        for &(hook, event) in chunk {
            values.extend([
                hook.into(),
                event.into(),
                PENDING.into(),
                now.into(),
                now.into(),
            ]);
        }
        let text = format!(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, state, next_at, created_at) \
             VALUES {}",
            rows_of(backend, chunk.len(), 5)
        );
        db.execute_raw(Statement::from_sql_and_values(backend, text, values))
            .await?;
    }
    heads(db, rows.iter().map(|&(h, _)| h).collect()).await
}

/// Queues a job for the head (oldest PENDING delivery) of each of `hooks`; a head that
/// has one keeps it (dedupe).
pub async fn heads(db: &impl ConnectionTrait, hooks: BTreeSet<i32>) -> AppResult<()> {
    if hooks.is_empty() {
        return Ok(());
    }
    let found: Vec<(i32, Option<i64>)> = webhook_deliveries::Entity::find()
        .select_only()
        .column(webhook_deliveries::Column::WebhookId)
        .column_as(webhook_deliveries::Column::Id.min(), "head")
        .filter(webhook_deliveries::Column::WebhookId.is_in(hooks))
        .filter(webhook_deliveries::Column::State.eq(PENDING))
        .group_by(webhook_deliveries::Column::WebhookId)
        .into_tuple()
        .all(db)
        .await?;
    let items: Vec<(String, String)> = found
        .into_iter()
        .filter_map(|(_, head)| head)
        .map(|head| (format!("{JOB}:{head}"), head.to_string()))
        .collect();
    jobs::enqueue_many(db, JOB, &items, time::now()).await
}

/// How an attempt changes a delivery.
pub struct Outcome {
    pub state: &'static str,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub next_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Counts as an attempt (a refusal without a request does not).
    pub attempted: bool,
}

/// Records an attempt's outcome on `delivery` (unless another attempt recorded one
/// since: the fencing `attempts`), and when it is final queues the webhook's next head,
/// in one transaction. Returns whether it was recorded.
pub async fn record(
    db: &sea_orm::DatabaseConnection,
    delivery: &webhook_deliveries::Model,
    outcome: Outcome,
) -> AppResult<bool> {
    use sea_orm::TransactionTrait;
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    let now = time::now();
    let attempts = delivery.attempts + i32::from(outcome.attempted);
    let stmt = Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE webhook_deliveries SET state = $1, attempts = $2, next_at = $3, \
             last_attempt_at = $4, response_code = $5, error = $6 \
             WHERE id = $7 AND attempts = $8 AND state = 'PENDING'",
        ),
        [
            outcome.state.into(),
            attempts.into(),
            outcome.next_at.into(),
            (if outcome.attempted {
                Some(now)
            } else {
                delivery.last_attempt_at
            })
            .into(),
            outcome.status.map(i32::from).into(),
            outcome.error.into(),
            delivery.id.into(),
            delivery.attempts.into(),
        ],
    );
    let done = txn.execute_raw(stmt).await?.rows_affected() == 1;
    if done && outcome.state != PENDING {
        heads(&txn, BTreeSet::from([delivery.webhook_id])).await?;
    }
    txn.commit().await?;
    Ok(done)
}

/// A page of `hook`'s deliveries, newest first (the caller checked the webhook).
pub async fn page(
    db: &impl ConnectionTrait,
    hook: i32,
    args: &PageArgs,
) -> AppResult<Page<webhook_deliveries::Model>> {
    let mut q =
        webhook_deliveries::Entity::find().filter(webhook_deliveries::Column::WebhookId.eq(hook));
    if let Some(after) = &args.after {
        let id = after.int(0)?;
        q = q.filter(webhook_deliveries::Column::Id.lt(id));
    }
    let rows = q
        .order_by_desc(webhook_deliveries::Column::Id)
        .limit(args.first + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, args, |d| {
        crate::domain::pagination::Cursor(vec![d.id.into()])
    }))
}

/// How many deliveries `hook` has.
pub async fn count(db: &impl ConnectionTrait, hook: i32) -> AppResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::WebhookId.eq(hook))
        .count(db)
        .await?)
}

/// The journal position the consumer has queued up to (replays stop there: later
/// events are the consumer's).
pub async fn position(db: &impl ConnectionTrait) -> AppResult<i64> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "SELECT position FROM engine_positions WHERE consumer = $1",
            ),
            [NAME.into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => r.try_get("", "position")?,
        None => 0,
    })
}

/// Locks `hook`'s row until the transaction ends (a no-op write: a row lock on
/// PostgreSQL, SQLite's one write lock taken before any read, so the transaction cannot
/// fail with a stale snapshot), so a replay and the consumer do not interleave their
/// inserts for one webhook.
pub async fn lock(db: &impl ConnectionTrait, hook: i32) -> AppResult<()> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE webhooks SET updated_at = updated_at WHERE id = $1",
        ),
        [hook.into()],
    ))
    .await?;
    Ok(())
}
