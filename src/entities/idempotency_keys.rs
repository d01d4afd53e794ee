use sea_orm::entity::prelude::*;

/// A user's `Idempotency-Key` and the first answer to it (`crate::domain::idempotency`).
/// `state`: `running` (the work is under way; `attempt` and the lease `locked_until`
/// fence it) or `done` (`status`, `content_type` and `body` are the answer; `body` is
/// NULL when the answer was too large to keep).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i32,
    pub key: String,
    pub fingerprint: String,
    pub state: String,
    pub attempt: i32,
    pub locked_until: Option<DateTimeUtc>,
    pub status: Option<i16>,
    pub content_type: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub body: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
