use sea_orm::entity::prelude::*;

/// The login failure budget per key (see `auth::throttle`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Reserved attempts, settled failures included.
    pub attempts: i32,
    /// Of those, attempts still being verified.
    pub pending: i32,
    /// Unix seconds.
    pub window_start: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
