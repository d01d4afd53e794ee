use super::enums::NotificationKind;
use sea_orm::entity::prelude::*;

/// One notification of one user. `dedupe` names its cause (`e:<event id>` or
/// `c:<kind>:<defect>:<deadline>`), unique per user.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub user_id: i32,
    pub defect_id: i32,
    pub project_id: i32,
    pub kind: NotificationKind,
    /// The journal event; None for the clock's kinds.
    pub event_id: Option<i32>,
    pub actor_id: Option<i32>,
    /// The deadline a clock notification is about (its text names it).
    pub deadline: Option<Date>,
    pub dedupe: String,
    pub created_at: DateTimeUtc,
    pub read_at: Option<DateTimeUtc>,
    /// Whether the defect is deleted now (kept by the defect's delete and restore and by
    /// the notification consumer): the inbox shows only rows where it is false.
    pub defect_deleted: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
