//! Enumerations shared by the tables and the GraphQL schema.
use async_graphql::Enum;
use sea_orm::{DeriveActiveEnum, EnumIter, sea_query::StringLen};
use serde::{Deserialize, Serialize};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    #[sea_orm(string_value = "ADMIN")]
    Admin,
    #[sea_orm(string_value = "MANAGER")]
    Manager,
    #[sea_orm(string_value = "ENGINEER")]
    Engineer,
    #[sea_orm(string_value = "OBSERVER")]
    Observer,
}

impl Role {
    /// ADMIN or MANAGER: oversees the work, so manages projects, stages, members, any
    /// defect, and reads users and exports. The one place this pair is written.
    pub fn is_manager(self) -> bool {
        matches!(self, Self::Admin | Self::Manager)
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProjectStatus {
    #[sea_orm(string_value = "ACTIVE")]
    Active,
    #[sea_orm(string_value = "CLOSED")]
    Closed,
}

/// Stored as its ordinal so that ordering by priority follows the enum order.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "i16", db_type = "SmallInteger")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Priority {
    #[sea_orm(num_value = 0)]
    Low,
    #[sea_orm(num_value = 1)]
    Medium,
    #[sea_orm(num_value = 2)]
    High,
}

/// Stored as its ordinal so that ordering by status follows the enum order.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "i16", db_type = "SmallInteger")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DefectStatus {
    #[sea_orm(num_value = 0)]
    New,
    #[sea_orm(num_value = 1)]
    InProgress,
    #[sea_orm(num_value = 2)]
    Review,
    #[sea_orm(num_value = 3)]
    Closed,
    #[sea_orm(num_value = 4)]
    Cancelled,
}

impl DefectStatus {
    pub const OPEN: [DefectStatus; 3] = [Self::New, Self::InProgress, Self::Review];

    /// The GraphQL / contract spelling, e.g. `IN_PROGRESS`.
    pub fn name(self) -> &'static str {
        match self {
            Self::New => "NEW",
            Self::InProgress => "IN_PROGRESS",
            Self::Review => "REVIEW",
            Self::Closed => "CLOSED",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Closed | Self::Cancelled)
    }
}
