use sea_orm::entity::prelude::*;

/// A user's notification settings; no row: the defaults (e-mail on, nothing muted, en).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i32,
    pub email: bool,
    /// JSON array of `NotificationKind` names.
    #[sea_orm(column_type = "Text")]
    pub muted: String,
    pub language: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
