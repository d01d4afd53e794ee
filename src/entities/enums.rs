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

/// What a journal event records (EVENTS.md).
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
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DefectEventKind {
    #[sea_orm(string_value = "CREATED")]
    Created,
    #[sea_orm(string_value = "UPDATED")]
    Updated,
    #[sea_orm(string_value = "ASSIGNED")]
    Assigned,
    #[sea_orm(string_value = "STATUS_CHANGED")]
    StatusChanged,
    #[sea_orm(string_value = "COMMENTED")]
    Commented,
    #[sea_orm(string_value = "ATTACHMENT_ADDED")]
    AttachmentAdded,
    #[sea_orm(string_value = "ATTACHMENT_REMOVED")]
    AttachmentRemoved,
    #[sea_orm(string_value = "DELETED")]
    Deleted,
    #[sea_orm(string_value = "RESTORED")]
    Restored,
}

/// What a notification is about (NOTIFY.md). The order of [`Self::PRECEDENCE`] decides
/// which kind a user gets when one event concerns them several ways.
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
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationKind {
    #[sea_orm(string_value = "ASSIGNED")]
    Assigned,
    #[sea_orm(string_value = "DEADLINE_CHANGED")]
    DeadlineChanged,
    #[sea_orm(string_value = "STATUS_CHANGED")]
    StatusChanged,
    #[sea_orm(string_value = "REVIEW_REQUESTED")]
    ReviewRequested,
    #[sea_orm(string_value = "COMMENTED")]
    Commented,
    #[sea_orm(string_value = "MENTIONED")]
    Mentioned,
    #[sea_orm(string_value = "DUE_SOON")]
    DueSoon,
    #[sea_orm(string_value = "OVERDUE")]
    Overdue,
    #[sea_orm(string_value = "ESCALATED")]
    Escalated,
}

impl NotificationKind {
    /// One event, one notification per user: the first of these that applies wins.
    pub const PRECEDENCE: [NotificationKind; 6] = [
        Self::Mentioned,
        Self::ReviewRequested,
        Self::Assigned,
        Self::DeadlineChanged,
        Self::StatusChanged,
        Self::Commented,
    ];
}

/// What an API token may do: `READ` runs queries, subscriptions and downloads only.
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
pub enum ApiTokenScope {
    #[sea_orm(string_value = "READ")]
    Read,
    #[sea_orm(string_value = "READ_WRITE")]
    ReadWrite,
}
