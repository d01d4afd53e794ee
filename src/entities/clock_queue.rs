use sea_orm::entity::prelude::*;

/// The clock's next step for one open defect with a deadline. `stage`: 0 = DUE_SOON
/// next, 1 = OVERDUE next, 2 = ESCALATED next. `fire_on`: the earliest local date the
/// step can fire (None: nothing left to fire unless the project's rules change).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clock_queue")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub defect_id: i32,
    pub project_id: i32,
    pub deadline: Date,
    pub stage: i16,
    pub fire_on: Option<Date>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
