//! `bench clock`: one pass of the deadline clock on a generated dataset, in process, with
//! a chosen number of due defects among all the waiting ones (issue 22: "the clock pass
//! at 1M defects with 1,000 due: ≤ 200 ms, and not slower at 1M than at 100k").
//!
//! The queue is first put into the steady state of a running server: defects already
//! past their deadline have had their OVERDUE (stage 2, nothing left: these projects never
//! escalate), later deadlines wait for their eve. Then `due` of the overdue ones are made
//! due again (stage 1, fire_on = the day after the deadline), and one tick runs; a second
//! tick shows the cost of a pass with nothing due.
use std::time::Instant;

use sea_orm::ConnectionTrait;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub async fn run(database_url: &str, due: u64) -> Result<(), BoxError> {
    let db = defect_control::db::connect(database_url, None).await?;
    defect_control::db::migrate(&db).await?;
    db.execute_unprepared(&format!(
        "UPDATE projects SET escalate_after_days = NULL; \
         UPDATE clock_queue SET stage = 2, fire_on = NULL WHERE deadline < CURRENT_DATE - 1; \
         UPDATE clock_queue SET stage = 0, fire_on = deadline - 1 WHERE deadline >= CURRENT_DATE - 1; \
         UPDATE clock_queue SET stage = 1, fire_on = deadline + 1 WHERE defect_id IN \
           (SELECT defect_id FROM clock_queue WHERE deadline < CURRENT_DATE - 1 ORDER BY defect_id LIMIT {due}); \
         DELETE FROM notifications; ANALYZE clock_queue"
    ))
    .await?;
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DatabaseBackend::Postgres,
                    sql,
                ))
                .await?
                .ok_or("no row")?;
            Ok::<i64, BoxError>(row.try_get("", "n")?)
        }
    };
    let defects = count("SELECT COUNT(*) AS n FROM defects").await?;
    let waiting = count("SELECT COUNT(*) AS n FROM clock_queue").await?;
    let due_now =
        count("SELECT COUNT(*) AS n FROM clock_queue WHERE fire_on <= CURRENT_DATE + 1").await?;
    let parts = defect_control::domain::notifications::engine_parts(
        defect_control::domain::notifications::Setup {
            mailer: None,
            public_url: None,
            clock_interval: std::time::Duration::from_secs(60),
        },
    );
    let tick = parts
        .ticks
        .iter()
        .find(|t| t.name() == "clock")
        .ok_or("no clock tick")?;
    let started = Instant::now();
    tick.run(&db).await?;
    let first = started.elapsed();
    let made = count("SELECT COUNT(*) AS n FROM notifications").await?;
    let started = Instant::now();
    tick.run(&db).await?;
    let idle = started.elapsed();
    println!(
        "clock: {defects} defects, {waiting} in the queue, {due_now} due (fire_on <= UTC date + 1): \
         pass {:.0} ms, {made} notifications made; next pass with nothing new due {:.1} ms",
        first.as_secs_f64() * 1000.0,
        idle.as_secs_f64() * 1000.0
    );
    Ok(())
}
