use super::enums::DefectEventKind;
use sea_orm::entity::prelude::*;

/// One journal row. `changes` is a JSON array of `{field, from, to}`; `attachment` the
/// JSON metadata of the attachment an ATTACHMENT_* event is about.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "defect_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub defect_id: i32,
    pub project_id: i32,
    pub actor_id: i32,
    pub kind: DefectEventKind,
    pub at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub changes: String,
    pub comment_id: Option<i32>,
    pub status_change_id: Option<i32>,
    pub attachment_id: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub attachment: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
