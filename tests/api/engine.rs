//! The engine for work derived from the journal (`src/engine`): a consumer's position
//! is claimed by one instance at a time and advances only with the consumer's writes;
//! jobs are claimed once under a lease, fenced by their attempt count, retried later.
use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use defect_control::{
    engine::{self, Consumer, Pass, jobs},
    entities::{defect_events, engine_positions, jobs as job_rows},
    error::{AppError, AppResult},
};
use sea_orm::{DatabaseConnection, DatabaseTransaction, EntityTrait};
use serde_json::json;

use crate::{
    defects::{create, world},
    helpers::{TestApp, apps},
};

/// Counts what it handles; fails while `fail` is above zero (and counts down).
struct Counter {
    handled: AtomicUsize,
    fail: AtomicUsize,
}

#[async_trait]
impl Consumer for Counter {
    fn name(&self) -> &'static str {
        "engine-test"
    }

    async fn handle(
        &self,
        _txn: &DatabaseTransaction,
        events: &[defect_events::Model],
    ) -> AppResult<()> {
        if self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(AppError::internal(std::io::Error::other(
                "a consumer step failed",
            )));
        }
        self.handled.fetch_add(events.len(), Ordering::SeqCst);
        Ok(())
    }
}

async fn position(db: &DatabaseConnection, name: &str) -> Option<i64> {
    engine_positions::Entity::find_by_id(name.to_owned())
        .one(db)
        .await
        .unwrap()
        .map(|r| r.position)
}

async fn defects(app: &TestApp, n: usize) {
    let w = world(app).await;
    for i in 0..n {
        create(
            app,
            &w.cast.manager,
            json!({ "projectId": w.project, "title": format!("Crack {i}") }),
        )
        .await;
    }
}

#[tokio::test]
async fn a_new_consumer_starts_at_the_end_and_advances_only_with_its_writes() {
    for app in apps().await {
        defects(&app, 2).await;
        let counter = Counter {
            handled: AtomicUsize::new(0),
            fail: AtomicUsize::new(1),
        };
        // First pass: starts at the journal's end (history is not replayed).
        assert_eq!(
            engine::pass(app.db(), &counter).await.unwrap(),
            Pass::Handled(0),
            "{}",
            app.backend
        );
        let start = position(app.db(), "engine-test")
            .await
            .expect("row created");
        assert!(start >= 2, "{}: starts after the 2 events", app.backend);

        defects(&app, 3).await;
        // A failing step rolls back: the position stays, nothing is lost.
        assert!(engine::pass(app.db(), &counter).await.is_err());
        assert_eq!(position(app.db(), "engine-test").await, Some(start));
        assert_eq!(counter.handled.load(Ordering::SeqCst), 0);
        // The next pass handles the same events once and advances past them.
        let Pass::Handled(n) = engine::pass(app.db(), &counter).await.unwrap() else {
            panic!("busy")
        };
        assert!(n >= 3, "{}: {n}", app.backend);
        assert_eq!(counter.handled.load(Ordering::SeqCst), n);
        assert_eq!(
            position(app.db(), "engine-test").await,
            Some(start + n as i64)
        );
        assert_eq!(
            engine::pass(app.db(), &counter).await.unwrap(),
            Pass::Handled(0)
        );
        assert_eq!(counter.handled.load(Ordering::SeqCst), n, "no repeat");
    }
}

#[tokio::test]
async fn one_instance_at_a_time_holds_a_consumer_on_postgres() {
    for app in apps().await {
        if app.backend != "postgres" {
            continue;
        }
        let other = sea_orm::Database::connect(&app.state.config.database_url)
            .await
            .unwrap();
        let held = engine::claim(app.db(), "notifications")
            .await
            .unwrap()
            .expect("free");
        // Another instance skips the locked row instead of waiting for it.
        let started = std::time::Instant::now();
        assert!(
            engine::claim(&other, "notifications")
                .await
                .unwrap()
                .is_none()
        );
        assert!(started.elapsed() < Duration::from_secs(2), "did not wait");
        let at = held.position;
        held.commit(at + 7).await.unwrap();
        let next = engine::claim(&other, "notifications")
            .await
            .unwrap()
            .expect("free again");
        assert_eq!(next.position, at + 7);
        next.txn.rollback().await.unwrap();
    }
}

async fn job(db: &DatabaseConnection, dedupe: &str) -> job_rows::Model {
    use sea_orm::{ColumnTrait, QueryFilter};
    job_rows::Entity::find()
        .filter(job_rows::Column::Dedupe.eq(dedupe))
        .one(db)
        .await
        .unwrap()
        .expect("job")
}

#[tokio::test]
async fn jobs_are_queued_once_claimed_under_a_lease_and_fenced_by_attempts() {
    for app in apps().await {
        let db = app.db();
        let now = defect_control::time::now();
        jobs::enqueue(db, "test", "t:1", "{}", now).await.unwrap();
        jobs::enqueue(db, "test", "t:1", "{\"again\":1}", now)
            .await
            .unwrap();
        assert_eq!(app.count("jobs").await, 1, "{}: dedupe", app.backend);

        let lease = Duration::from_secs(60);
        let first = jobs::claim(db, "test", lease, 10).await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].attempts, 1);
        assert_eq!(first[0].payload, "{}", "the first stands");
        // Leased: nobody else gets it, nor does another kind's claim.
        assert!(jobs::claim(db, "test", lease, 10).await.unwrap().is_empty());
        assert!(
            jobs::claim(db, "other", lease, 10)
                .await
                .unwrap()
                .is_empty()
        );

        // A retry waits for its time.
        let later = defect_control::time::now() + chrono::Duration::hours(1);
        let retry = jobs::Outcome::Retry {
            error: "421 try later".into(),
            at: later,
        };
        assert!(jobs::finish(db, &first[0], retry).await.unwrap());
        let row = job(db, "t:1").await;
        assert_eq!((row.state.as_str(), row.attempts), ("pending", 1));
        assert_eq!(row.last_error.as_deref(), Some("421 try later"));
        assert!(row.locked_until.is_none());
        assert!(jobs::claim(db, "test", lease, 10).await.unwrap().is_empty());

        // Due again; an attempt whose lease ran out is taken over, and its late
        // outcome changes nothing (the attempt count fences it).
        use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
        let mut due = row.into_active_model();
        due.run_at = Set(defect_control::time::now());
        due.update(db).await.unwrap();
        let second = jobs::claim(db, "test", Duration::ZERO, 10).await.unwrap();
        assert_eq!(second[0].attempts, 2);
        tokio::time::sleep(Duration::from_millis(5)).await;
        let third = jobs::claim(db, "test", lease, 10).await.unwrap();
        assert_eq!(
            third.len(),
            1,
            "{}: the lapsed lease is taken over",
            app.backend
        );
        assert_eq!(third[0].attempts, 3);
        assert!(
            !jobs::finish(db, &second[0], jobs::Outcome::Done)
                .await
                .unwrap()
        );
        assert_eq!(job(db, "t:1").await.state, "pending");
        assert!(
            jobs::finish(db, &third[0], jobs::Outcome::Done)
                .await
                .unwrap()
        );
        let done = job(db, "t:1").await;
        assert_eq!((done.state.as_str(), done.attempts), ("done", 3));
        assert!(
            !jobs::finish(db, &third[0], jobs::Outcome::Done)
                .await
                .unwrap()
        );

        // Failed is final.
        jobs::enqueue(db, "test", "t:2", "{}", now).await.unwrap();
        let j = jobs::claim(db, "test", lease, 10).await.unwrap();
        assert!(
            jobs::finish(db, &j[0], jobs::Outcome::Failed("550 no such user".into()))
                .await
                .unwrap()
        );
        assert_eq!(job(db, "t:2").await.state, "failed");
        assert!(jobs::claim(db, "test", lease, 10).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn concurrent_claims_take_each_job_once_on_postgres() {
    for app in apps().await {
        if app.backend != "postgres" {
            continue;
        }
        let now = defect_control::time::now();
        let items: Vec<(String, String)> = (0..200)
            .map(|i| (format!("c:{i}"), "{}".to_owned()))
            .collect();
        jobs::enqueue_many(app.db(), "test", &items, now)
            .await
            .unwrap();
        let url = app.state.config.database_url.clone();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let db = sea_orm::Database::connect(&url).await.unwrap();
            let seen = seen.clone();
            workers.spawn(async move {
                loop {
                    let got = jobs::claim(&db, "test", Duration::from_secs(60), 7)
                        .await
                        .unwrap();
                    if got.is_empty() {
                        break;
                    }
                    seen.lock().unwrap().extend(got.into_iter().map(|j| j.id));
                }
            });
        }
        while workers.join_next().await.is_some() {}
        let mut ids = seen.lock().unwrap().clone();
        assert_eq!(ids.len(), 200, "every job claimed");
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 200, "no job claimed twice");
    }
}

#[test]
fn backoff_grows_with_jitter_and_stays_under_its_cap() {
    let first = Duration::from_secs(30);
    let cap = Duration::from_secs(900);
    for attempts in 1..40 {
        for _ in 0..20 {
            let d = jobs::backoff(attempts, first, cap);
            let ceiling = first.saturating_mul(1 << (attempts - 1).min(20)).min(cap);
            assert!(d >= ceiling / 2 && d <= ceiling, "{attempts}: {d:?}");
        }
    }
}
