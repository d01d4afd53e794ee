//! What the document reads: the names of projects, stages, users and plans (once), the
//! matching defects in key order a batch at a time, and for each batch its attachments
//! and status history (one statement each). Memory grows with a batch, not the report.
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    auth::Viewer,
    domain::{
        defects::{filter::DefectFilter, keys, queries},
        projects::site_time::{self, Todays},
    },
    entities::{
        attachments,
        defects::Column,
        enums::{DefectStatus, Priority},
        plans, projects, stages, status_changes, users,
    },
    error::AppResult,
};

/// Matching defects by status and by priority.
pub(super) type Tallies = (Vec<(DefectStatus, i64)>, Vec<(Priority, i64)>);

/// Defects read per statement.
pub(super) const BATCH: u64 = 100;

pub(super) struct Project {
    pub(super) title: String,
    pub(super) code: Option<String>,
    pub(super) zone: String,
}

pub(super) struct Plan {
    pub(super) title: String,
    pub(super) content_type: String,
    pub(super) storage_key: String,
}

/// Names by id, read once per document.
pub(super) struct Names {
    pub(super) projects: HashMap<i32, Project>,
    pub(super) stages: HashMap<i32, String>,
    pub(super) users: HashMap<i32, String>,
    pub(super) plans: HashMap<i32, Plan>,
}

impl Names {
    pub(super) async fn load(db: &DatabaseConnection) -> AppResult<Self> {
        let (projects, stages, users, plans) = tokio::try_join!(
            projects::Entity::find().all(db),
            stages::Entity::find()
                .select_only()
                .columns([stages::Column::Id, stages::Column::Title])
                .into_tuple::<(i32, String)>()
                .all(db),
            users::Entity::find()
                .select_only()
                .columns([
                    users::Column::Id,
                    users::Column::Username,
                    users::Column::FullName
                ])
                .into_tuple::<(i32, String, String)>()
                .all(db),
            plans::Entity::find().all(db),
        )?;
        Ok(Names {
            projects: projects
                .into_iter()
                .map(|p| {
                    let project = Project {
                        title: p.title,
                        code: p.code,
                        zone: p.time_zone,
                    };
                    (p.id, project)
                })
                .collect(),
            stages: stages.into_iter().collect(),
            users: users
                .into_iter()
                .map(|(id, username, full)| {
                    let full = full.trim();
                    (
                        id,
                        if full.is_empty() {
                            username
                        } else {
                            full.to_owned()
                        },
                    )
                })
                .collect(),
            plans: plans
                .into_iter()
                .map(|p| {
                    let plan = Plan {
                        title: p.title,
                        content_type: p.content_type,
                        storage_key: p.storage_key,
                    };
                    (p.id, plan)
                })
                .collect(),
        })
    }

    pub(super) fn user(&self, id: Option<i32>) -> &str {
        id.and_then(|i| self.users.get(&i))
            .map_or("", String::as_str)
    }

    pub(super) fn stage(&self, id: Option<i32>) -> &str {
        id.and_then(|i| self.stages.get(&i))
            .map_or("", String::as_str)
    }

    /// `СК1-042`, or `#42` in a project without a code.
    pub(super) fn key(&self, d: &Row) -> String {
        match self
            .projects
            .get(&d.project_id)
            .and_then(|p| p.code.as_deref())
        {
            Some(code) => keys::format(code, d.number),
            None => format!("#{}", d.number),
        }
    }

    pub(super) fn zone(&self, project_id: i32) -> &str {
        self.projects
            .get(&project_id)
            .map_or("UTC", |p| p.zone.as_str())
    }
}

#[derive(Debug, FromQueryResult)]
pub(super) struct Row {
    pub(super) id: i32,
    pub(super) project_id: i32,
    pub(super) number: i32,
    pub(super) stage_id: Option<i32>,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) priority: Priority,
    pub(super) status: DefectStatus,
    pub(super) performer_id: Option<i32>,
    pub(super) author_id: i32,
    pub(super) deadline: Option<NaiveDate>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) plan_id: Option<i32>,
    pub(super) location_x: Option<f64>,
    pub(super) location_y: Option<f64>,
    pub(super) location_label: Option<String>,
}

impl Row {
    /// Open and past its deadline on its project's today at `now`.
    pub(super) fn overdue(&self, names: &Names, now: DateTime<Utc>) -> bool {
        let today = site_time::today_in(site_time::zone(names.zone(self.project_id)), now);
        DefectStatus::OPEN.contains(&self.status) && self.deadline.is_some_and(|d| d < today)
    }
}

/// How many defects match (one statement).
pub(super) async fn count(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &DefectFilter,
    todays: &Todays,
) -> AppResult<u64> {
    Ok(queries::visible_to(viewer)
        .filter(filter.condition(todays))
        .count(db)
        .await?)
}

/// The matching defects: the filter's condition over what the viewer sees, fixed to the
/// ids that existed when the document started (both layout runs see the same set).
#[derive(Clone)]
pub(super) struct Selection {
    pub(super) viewer: Viewer,
    pub(super) condition: Condition,
    /// Projects with matching defects, in key order (by code, then title).
    pub(super) projects: Vec<i32>,
}

impl Selection {
    pub(super) async fn new(
        db: &DatabaseConnection,
        viewer: &Viewer,
        filter: &DefectFilter,
        todays: &Todays,
        names: &Names,
    ) -> AppResult<Self> {
        let mut condition = filter.condition(todays);
        let last: Option<i32> = queries::visible_to(viewer)
            .filter(condition.clone())
            .select_only()
            .column_as(Expr::col(Column::Id).max(), "last")
            .into_tuple::<Option<i32>>()
            .one(db)
            .await?
            .flatten();
        condition = condition.add(Column::Id.lte(last.unwrap_or(0)));
        let mut projects: Vec<i32> = queries::visible_to(viewer)
            .filter(condition.clone())
            .select_only()
            .column(Column::ProjectId)
            .distinct()
            .into_tuple()
            .all(db)
            .await?;
        projects.sort_by_key(|id| {
            let p = names.projects.get(id);
            (
                p.and_then(|p| p.code.clone()).unwrap_or_default(),
                p.map(|p| p.title.clone()).unwrap_or_default(),
                *id,
            )
        });
        Ok(Selection {
            viewer: viewer.clone(),
            condition,
            projects,
        })
    }

    pub(super) async fn count(&self, db: &DatabaseConnection) -> AppResult<u64> {
        Ok(queries::visible_to(&self.viewer)
            .filter(self.condition.clone())
            .count(db)
            .await?)
    }

    /// Matching defects by status and by priority (two `GROUP BY`s).
    pub(super) async fn tallies(&self, db: &DatabaseConnection) -> AppResult<Tallies> {
        let by = |c: Column| {
            queries::visible_to(&self.viewer)
                .filter(self.condition.clone())
                .select_only()
                .column(c)
                .column_as(Expr::col(Column::Id).count(), "n")
                .group_by(c)
        };
        let statuses = by(Column::Status).into_tuple().all(db).await?;
        let priorities = by(Column::Priority).into_tuple().all(db).await?;
        Ok((statuses, priorities))
    }

    /// Up to [`BATCH`] defects of `project` numbered above `after`, by number.
    pub(super) async fn batch(
        &self,
        db: &DatabaseConnection,
        project: i32,
        after: i32,
    ) -> AppResult<Vec<Row>> {
        Ok(queries::visible_to(&self.viewer)
            .filter(self.condition.clone())
            .filter(Column::ProjectId.eq(project))
            .filter(Column::Number.gt(after))
            .select_only()
            .columns([
                Column::Id,
                Column::ProjectId,
                Column::Number,
                Column::StageId,
                Column::Title,
                Column::Description,
                Column::Priority,
                Column::Status,
                Column::PerformerId,
                Column::AuthorId,
                Column::Deadline,
                Column::CreatedAt,
                Column::PlanId,
                Column::LocationX,
                Column::LocationY,
                Column::LocationLabel,
            ])
            .order_by_asc(Column::Number)
            .limit(BATCH)
            .into_model::<Row>()
            .all(db)
            .await?)
    }
}

/// The files and the status history of a batch of defects, by defect id.
#[derive(Default)]
pub(super) struct Details {
    pub(super) files: HashMap<i32, Vec<attachments::Model>>,
    pub(super) history: HashMap<i32, Vec<status_changes::Model>>,
}

impl Details {
    pub(super) async fn load(db: &DatabaseConnection, rows: &[Row]) -> AppResult<Self> {
        let ids: Vec<i32> = rows.iter().map(|r| r.id).collect();
        let (files, history) = tokio::try_join!(
            attachments::Entity::find()
                .filter(attachments::Column::DefectId.is_in(ids.clone()))
                .order_by_asc(attachments::Column::Id)
                .all(db),
            status_changes::Entity::find()
                .filter(status_changes::Column::DefectId.is_in(ids))
                .order_by_asc(status_changes::Column::ChangedAt)
                .order_by_asc(status_changes::Column::Id)
                .all(db),
        )?;
        let mut d = Details::default();
        for f in files {
            d.files.entry(f.defect_id).or_default().push(f);
        }
        for h in history {
            d.history.entry(h.defect_id).or_default().push(h);
        }
        Ok(d)
    }
}
