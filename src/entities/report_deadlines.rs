//! Open defects per deadline day, for the reports' `overdue` (see `domain::reports::tally`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "report_deadlines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub deadline: Date,
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub performer_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub status: i16,
    #[sea_orm(primary_key, auto_increment = false)]
    pub priority: i16,
    pub n: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
