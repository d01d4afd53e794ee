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
    /// IANA zone of the site (`Asia/Novosibirsk`): defines the project's today.
    pub time_zone: String,
    /// JSON array of `{"priority":"HIGH","days":3}`, at most one per priority.
    #[sea_orm(column_type = "Text")]
    pub sla: String,
    /// Open defects this many days past their deadline go to the managers; None: never.
    pub escalate_after_days: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
