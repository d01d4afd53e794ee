//! Defects with controlled timestamps for the report and export tests.
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use defect_control::{
    domain::defects::service::{self, NewDefect},
    entities::{
        defects,
        enums::{DefectStatus, Priority},
    },
};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

use crate::helpers::{Actor, TestApp};

/// One defect as a test wants it: walked through the real services, then given a
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
pub async fn make(app: &TestApp, author: &Actor, manager: &Actor, s: &Spec) -> defects::Model {
    let d = service::create(
        app.db(),
        &author.viewer(),
        NewDefect {
            project_id: s.project,
            stage_id: s.stage,
            title: s.title.clone(),
            description: Some(s.description.clone()),
            priority: Some(s.priority),
            deadline: s.deadline,
            performer_id: None,
        },
    )
    .await
    .unwrap();
    let mgr = manager.viewer();
    if let Some(p) = s.performer {
        service::assign(app.db(), &mgr, d.id, Some(p), None)
            .await
            .unwrap();
    }
    use DefectStatus::*;
    let path: &[DefectStatus] = match s.status {
        New => &[],
        InProgress => &[InProgress],
        Review => &[InProgress, Review],
        Closed => &[InProgress, Review, Closed],
        Cancelled => &[Cancelled],
    };
    for to in path {
        service::change_status(app.db(), &mgr, d.id, *to, None, None)
            .await
            .unwrap();
    }
    let row = defects::Entity::find_by_id(d.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let mut am: defects::ActiveModel = row.into();
    am.created_at = Set(s.created_at);
    if s.status == Closed {
        let ms = (s.hours * 3_600_000.0).round() as i64;
        am.closed_at = Set(Some(s.created_at + Duration::milliseconds(ms)));
    }
    am.update(app.db()).await.unwrap()
}
