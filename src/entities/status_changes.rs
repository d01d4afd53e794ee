use super::enums::DefectStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "status_changes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub defect_id: i32,
    pub from_status: Option<DefectStatus>,
    pub to_status: DefectStatus,
    pub changed_by: i32,
    pub changed_at: DateTimeUtc,
    pub comment: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
