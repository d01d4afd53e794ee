//! The reports' maintained counts (see `domain::reports::tally`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "report_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: i32,
    /// 0 when nobody performs the defects of this row.
    #[sea_orm(primary_key, auto_increment = false)]
    pub performer_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub status: i16,
    #[sea_orm(primary_key, auto_increment = false)]
    pub priority: i16,
    pub n: i64,
    pub late: i64,
    pub closed_secs: i64,
    pub closed_micros: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
