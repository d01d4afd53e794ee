use super::enums::{DefectStatus, Priority};
use sea_orm::entity::prelude::*;

// Not `Eq`: the pin's coordinates are floating point.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "defects")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub project_id: i32,
    /// 1, 2, 3 … per project, from `defect_numbers` in the create's transaction.
    pub number: i32,
    pub stage_id: Option<i32>,
    pub title: String,
    pub description: String,
    pub search_text: String,
    pub priority: Priority,
    pub status: DefectStatus,
    pub performer_id: Option<i32>,
    pub author_id: i32,
    pub deadline: Option<Date>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
    /// Set by `deleteDefect`; a deleted defect is hidden everywhere but `deletedDefects`.
    pub deleted_at: Option<DateTimeUtc>,
    /// The pin on a plan of the defect's project: all of `plan_id`, `location_x`,
    /// `location_y` or none (`location_label` only with a plan).
    pub plan_id: Option<i32>,
    /// 0..1 of the plan preview's width, from the left.
    pub location_x: Option<f64>,
    /// 0..1 of the plan preview's height, from the top.
    pub location_y: Option<f64>,
    pub location_label: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
