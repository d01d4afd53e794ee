use super::enums::ProjectStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub title: String,
    /// 2–10 letters or digits, the prefix of defect keys (`СК1-042`).
    pub code: Option<String>,
    /// `code` lower-cased in Rust (full Unicode), unique: codes are unique
    /// case-insensitively on both databases.
    pub code_key: Option<String>,
    pub description: String,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
    pub status: ProjectStatus,
    pub search_text: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
