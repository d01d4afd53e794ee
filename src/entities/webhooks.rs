use sea_orm::entity::prelude::*;

/// One webhook (NOTIFY.md, "Webhooks"). `project_id` None: every project. `kinds`: a
/// JSON array of `DefectEventKind` names, empty = every kind. `secret`: `whsec_…`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub project_id: Option<i32>,
    pub url: String,
    #[sea_orm(column_type = "Text")]
    pub kinds: String,
    pub secret: String,
    pub created_by: i32,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
