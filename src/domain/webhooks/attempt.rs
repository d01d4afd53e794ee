//! The job that attempts a webhook's head delivery (kind `deliveries::JOB`): checks that
//! the delivery is still pending and still the head, that the webhook is active and its
//! creator still reaches the event, signs the body with the current secret, POSTs it,
//! and records the outcome (`deliveries::record`, which queues the next head once this
//! one is final). A job's lease outlasts the request's timeout, so one instance at a
//! time attempts a delivery; a crash before the record repeats the attempt (at least
//! once; the receiver drops the repeat by `webhook-id`).
use std::{collections::BTreeSet, time::Duration};

use async_trait::async_trait;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

use super::{
    Setup, body,
    deliveries::{self, DELIVERED, FAILED, Outcome, PENDING},
    policy,
    send::Sender,
    sign,
};
use crate::{
    domain::defects::live,
    engine::{Handler, jobs},
    entities::{defect_events, jobs as job_rows, webhook_deliveries, webhooks},
    error::AppResult,
    time,
};

/// How long a paused (inactive) webhook's head waits before it looks again; reactivation
/// does not wait for it when no job is queued.
const PAUSED: Duration = Duration::from_secs(60);

pub struct Attempts {
    sender: Sender,
    timeout: Duration,
}

impl Attempts {
    pub fn new(setup: Setup) -> Self {
        Attempts {
            sender: Sender::new(setup.allow_private, setup.timeout),
            timeout: setup.timeout,
        }
    }
}

fn at(wait: Duration) -> chrono::DateTime<chrono::Utc> {
    time::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
}

#[async_trait]
impl Handler for Attempts {
    fn kind(&self) -> &'static str {
        deliveries::JOB
    }

    fn lease(&self) -> Duration {
        self.timeout + Duration::from_secs(30)
    }

    fn concurrency(&self) -> usize {
        16
    }

    async fn run(&self, db: &DatabaseConnection, job: &job_rows::Model) -> jobs::Outcome {
        match self.attempt(db, job).await {
            Ok(outcome) => outcome,
            Err(e) => jobs::Outcome::Retry {
                error: e.to_string(),
                at: at(Duration::from_secs(10)),
            },
        }
    }
}

impl Attempts {
    async fn attempt(
        &self,
        db: &DatabaseConnection,
        job: &job_rows::Model,
    ) -> AppResult<jobs::Outcome> {
        let Ok(id) = job.payload.parse::<i64>() else {
            return Ok(jobs::Outcome::Failed("unreadable payload".into()));
        };
        let Some(delivery) = webhook_deliveries::Entity::find_by_id(id).one(db).await? else {
            return Ok(jobs::Outcome::Done); // its webhook was deleted
        };
        if delivery.state != PENDING {
            return Ok(jobs::Outcome::Done);
        }
        let Some(hook) = webhooks::Entity::find_by_id(delivery.webhook_id)
            .one(db)
            .await?
        else {
            return Ok(jobs::Outcome::Done);
        };
        if !hook.active {
            return Ok(jobs::Outcome::Retry {
                error: "the webhook is inactive".into(),
                at: at(PAUSED),
            });
        }
        let earlier = webhook_deliveries::Entity::find()
            .filter(webhook_deliveries::Column::WebhookId.eq(hook.id))
            .filter(webhook_deliveries::Column::State.eq(PENDING))
            .filter(webhook_deliveries::Column::Id.lt(delivery.id))
            .count(db)
            .await?;
        if earlier > 0 {
            // Not the head (cannot happen while heads are queued in order): the head goes first.
            deliveries::heads(db, BTreeSet::from([hook.id])).await?;
            return Ok(jobs::Outcome::Done);
        }
        let event = defect_events::Entity::find_by_id(delivery.event_id)
            .one(db)
            .await?;
        let reaches = match &event {
            Some(event) => reaches(db, &hook, event).await?,
            None => false,
        };
        let (Some(event), true) = (event, reaches) else {
            let error = "the webhook's creator can no longer see this event".to_owned();
            deliveries::record(
                db,
                &delivery,
                Outcome {
                    state: FAILED,
                    status: None,
                    error: Some(error.clone()),
                    next_at: None,
                    attempted: false,
                },
            )
            .await?;
            return Ok(jobs::Outcome::Failed(error));
        };
        let body = body::build(db, &event).await?;
        let key = sign::key(&hook.secret)?;
        let msg_id = event.id.to_string();
        let timestamp = time::now().timestamp();
        let headers = [
            ("webhook-id", msg_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            (
                "webhook-signature",
                sign::signature(&key, &msg_id, timestamp, &body),
            ),
        ];
        let sent = self.sender.post(&hook.url, headers, body).await;
        let attempts = delivery.attempts + 1;
        let (state, next, outcome) = match (&sent.error, policy::retry_after(attempts)) {
            (None, _) => (DELIVERED, None, jobs::Outcome::Done),
            (Some(e), Some(wait)) => {
                let when = at(wait);
                (
                    PENDING,
                    Some(when),
                    jobs::Outcome::Retry {
                        error: e.clone(),
                        at: when,
                    },
                )
            }
            (Some(e), None) => (FAILED, None, jobs::Outcome::Failed(e.clone())),
        };
        deliveries::record(
            db,
            &delivery,
            Outcome {
                state,
                status: sent.status,
                error: sent.error,
                next_at: next,
                attempted: true,
            },
        )
        .await?;
        Ok(outcome)
    }
}

/// Whether `hook`'s creator, active, still reaches `event` (the consumer's rule).
async fn reaches(
    db: &DatabaseConnection,
    hook: &webhooks::Model,
    event: &defect_events::Model,
) -> AppResult<bool> {
    let reach = deliveries::reach_of(db, BTreeSet::from([hook.created_by])).await?;
    let Some(&role) = reach.get(&hook.created_by) else {
        return Ok(false);
    };
    let access =
        live::access_of_users(db, &[(hook.created_by, role)], std::slice::from_ref(event)).await?;
    Ok(access.sees(hook.created_by, role, event))
}
