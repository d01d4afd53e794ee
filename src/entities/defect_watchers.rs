use sea_orm::entity::prelude::*;

/// `watching = false`: the user unwatched the defect explicitly (sticky).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "defect_watchers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub defect_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i32,
    pub watching: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
