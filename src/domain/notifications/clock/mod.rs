//! The deadline clock (NOTIFY.md, "The clock"): `DUE_SOON`, `OVERDUE` and `ESCALATED`
//! for open defects with a deadline, each by its project's today.
//!
//! - `queue.rs`: the journal consumer `clock` that keeps `clock_queue` in step with the
//!   defects (one row per open, live defect with a deadline: its next step and the
//!   earliest local date it can fire, `fire_on`).
//! - `tick.rs`: the periodic pass that reads only the rows whose `fire_on` has come
//!   somewhere on Earth, fires what is due and advances them.
//! - `audience.rs`: who receives a step (performer, watchers, the project's managers),
//!   through the visibility rule of `projects::policy`.
//!
//! Dates here are local dates of the site: a deadline is one, so `fire_on` is one, and
//! a project's zone only decides which local date is "today" when a tick compares them.
mod audience;
mod queue;
mod tick;

use chrono::{Days, NaiveDate};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use std::sync::Arc;

use crate::{engine, entities::enums::NotificationKind, error::AppResult};

pub use queue::Queue;
pub use tick::Clock;

/// The clock's consumer and tick, registered into the engine's parts.
pub fn register(parts: &mut engine::Parts, setup: &super::Setup) {
    parts.consumers.push(Arc::new(Queue));
    parts.ticks.push(Arc::new(Clock {
        every: setup.clock_interval,
        email: setup.mailer.is_some(),
    }));
}

/// `clock_queue.stage`: the next step of a row.
const DUE_SOON: i16 = 0;
const OVERDUE: i16 = 1;
const ESCALATED: i16 = 2;

/// The first step of a defect's deadline: `DUE_SOON`, armed for the day before.
pub(super) fn first(deadline: NaiveDate) -> (i16, Option<NaiveDate>) {
    (DUE_SOON, deadline.checked_sub_days(Days::new(1)))
}

/// What a row still waits for after the steps that are due on `today`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Wait for `stage` until `fire_on` (None: until the project's rules change).
    Wait(i16, Option<NaiveDate>),
    /// Nothing is left: the row goes.
    Done,
}

/// The steps of a row (`stage`, `deadline`) that fire on the project's `today`, in
/// order, and what it waits for next. A step whose day has passed unseen is skipped
/// only for `DUE_SOON` (a deadline already today or past is not "due soon"); `OVERDUE`
/// and `ESCALATED` fire late rather than never.
pub(super) fn advance(
    stage: i16,
    deadline: NaiveDate,
    today: NaiveDate,
    escalate_after_days: Option<i32>,
) -> (Vec<NotificationKind>, Next) {
    let mut fired = Vec::new();
    let mut stage = stage;
    loop {
        match stage {
            DUE_SOON => {
                let (_, eve) = first(deadline);
                if eve.is_some_and(|eve| today < eve) {
                    return (fired, Next::Wait(DUE_SOON, eve));
                }
                if eve == Some(today) {
                    fired.push(NotificationKind::DueSoon);
                }
                stage = OVERDUE;
            }
            OVERDUE => {
                let late = deadline.checked_add_days(Days::new(1));
                if late.is_none_or(|late| today < late) {
                    return (fired, Next::Wait(OVERDUE, late));
                }
                fired.push(NotificationKind::Overdue);
                stage = ESCALATED;
            }
            _ => {
                let due = escalation_day(deadline, escalate_after_days);
                if due.is_none_or(|due| today < due) {
                    return (fired, Next::Wait(ESCALATED, due));
                }
                fired.push(NotificationKind::Escalated);
                return (fired, Next::Done);
            }
        }
    }
}

/// The local date an open defect is escalated (None: its project never escalates).
fn escalation_day(deadline: NaiveDate, escalate_after_days: Option<i32>) -> Option<NaiveDate> {
    let days = u64::try_from(escalate_after_days?.max(0)).ok()?;
    deadline.checked_add_days(Days::new(days))
}

/// Re-arms the rows of `project_id` that wait for `ESCALATED` from the project's
/// current `escalate_after_days` (call it after a change of the project's rules). One
/// statement on the `(project_id, stage)` index. A change of `time_zone` needs nothing:
/// `fire_on` is a local date and each tick compares it with the project's today in
/// its current zone.
pub async fn rearm_project(db: &impl ConnectionTrait, project_id: i32) -> AppResult<()> {
    let backend = db.get_database_backend();
    // The one place the clock does date arithmetic in SQL: `deadline + n days`.
    let escalation = match backend {
        DatabaseBackend::Postgres => "clock_queue.deadline + p.escalate_after_days",
        _ => "date(clock_queue.deadline, '+' || p.escalate_after_days || ' days')",
    };
    let text = format!(
        "UPDATE clock_queue SET fire_on = (SELECT CASE WHEN p.escalate_after_days IS NULL \
         THEN NULL ELSE {escalation} END FROM projects p WHERE p.id = clock_queue.project_id) \
         WHERE project_id = $1 AND stage = $2"
    );
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        engine::sql(backend, &text),
        [project_id.into(), ESCALATED.into()],
    ))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use NotificationKind::{DueSoon, Escalated, Overdue};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_steps_of_a_deadline_by_the_sites_today() {
        let deadline = d("2026-12-10");
        type Case<'a> = (i16, &'a str, Option<i32>, &'a [NotificationKind], Next);
        let table: [Case; 12] = [
            // Not yet: waits for the eve.
            (
                0,
                "2026-12-08",
                Some(3),
                &[],
                Next::Wait(0, Some(d("2026-12-09"))),
            ),
            (
                0,
                "2026-12-09",
                Some(3),
                &[DueSoon],
                Next::Wait(1, Some(d("2026-12-11"))),
            ),
            // First seen on the day itself: no DUE_SOON, not overdue yet.
            (
                0,
                "2026-12-10",
                Some(3),
                &[],
                Next::Wait(1, Some(d("2026-12-11"))),
            ),
            // First seen past the deadline: straight to OVERDUE.
            (
                0,
                "2026-12-11",
                Some(3),
                &[Overdue],
                Next::Wait(2, Some(d("2026-12-13"))),
            ),
            (0, "2026-12-13", Some(3), &[Overdue, Escalated], Next::Done),
            (
                1,
                "2026-12-10",
                Some(3),
                &[],
                Next::Wait(1, Some(d("2026-12-11"))),
            ),
            (1, "2026-12-11", None, &[Overdue], Next::Wait(2, None)),
            (
                2,
                "2026-12-12",
                Some(3),
                &[],
                Next::Wait(2, Some(d("2026-12-13"))),
            ),
            (2, "2026-12-13", Some(3), &[Escalated], Next::Done),
            (2, "2027-01-01", Some(3), &[Escalated], Next::Done),
            (2, "2027-01-01", None, &[], Next::Wait(2, None)),
            // Zero days: escalated with OVERDUE, the day after the deadline.
            (1, "2026-12-11", Some(0), &[Overdue, Escalated], Next::Done),
        ];
        for (stage, today, days, fired, next) in table {
            assert_eq!(
                advance(stage, deadline, d(today), days),
                (fired.to_vec(), next),
                "stage {stage} on {today} with {days:?}"
            );
        }
    }
}
