use super::enums::{DefectStatus, Priority};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "defects")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub project_id: i32,
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
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
