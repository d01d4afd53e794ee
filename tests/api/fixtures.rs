//! Defects with controlled timestamps for the report and export tests.
use std::future::Future;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use defect_control::entities::{
    defects,
    enums::{DefectStatus, Priority},
};

use crate::{
    builders::DefectBuilder,
    helpers::{Actor, TestApp},
};

/// One defect as a test wants it (the report tests compute their expectations from
/// it): built by [`DefectBuilder`] through the real services, then given a
/// controlled `created_at` (and `closed_at` = `created_at` + `hours` when CLOSED).
#[derive(Clone, Debug)]
pub struct Spec {
    pub project: i32,
    pub stage: Option<i32>,
    pub title: String,
    pub description: String,
    pub priority: Priority,
    pub status: DefectStatus,
    pub performer: Option<i32>,
    pub deadline: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub hours: f64,
}

impl Spec {
    pub fn new(project: i32, created_at: DateTime<Utc>) -> Self {
        Spec {
            project,
            stage: None,
            title: "Defect".into(),
            description: String::new(),
            priority: Priority::Medium,
            status: DefectStatus::New,
            performer: None,
            deadline: None,
            created_at,
            hours: 0.0,
        }
    }

    pub fn open(&self) -> bool {
        DefectStatus::OPEN.contains(&self.status)
    }

    pub fn overdue(&self, today: NaiveDate) -> bool {
        self.open() && self.deadline.is_some_and(|d| d < today)
    }
}

/// Whole seconds, so both backends compute hours exactly.
pub fn base_time() -> DateTime<Utc> {
    let t = Utc::now() - Duration::days(30);
    Utc.timestamp_opt(t.timestamp(), 0).unwrap()
}

/// Creates the defect as `author`; `manager` assigns and moves it.
#[track_caller]
pub fn make<'a>(
    app: &'a TestApp,
    author: &'a Actor,
    manager: &'a Actor,
    s: &Spec,
) -> impl Future<Output = defects::Model> + 'a {
    DefectBuilder::new(s.project, author, manager)
        .stage(s.stage)
        .title(&s.title)
        .description(Some(s.description.clone()))
        .priority(s.priority)
        .deadline(s.deadline)
        .performer(s.performer)
        .status(s.status)
        .created_at(s.created_at)
        .hours_to_close(s.hours)
        .create(app)
}
