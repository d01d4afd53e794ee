//! Defect inputs: the list's filter and order, create and update.
use async_graphql::{ID, InputObject, MaybeUndefined};
use chrono::{DateTime, Utc};

use crate::{
    domain::{defects::filter, validate},
    entities::enums::{DefectStatus, Priority},
    error::GqlResultExt,
    graphql::{plans::DefectLocationInput, scalars::Date},
};

/// All given fields combine with AND.
#[derive(InputObject, Default)]
#[graphql(name = "DefectFilter")]
pub struct DefectFilterInput {
    pub project_id: Option<ID>,
    pub stage_id: Option<ID>,
    pub performer_id: Option<ID>,
    pub author_id: Option<ID>,
    /// Any of these (an empty list: any status).
    pub status: Option<Vec<DefectStatus>>,
    /// Any of these (an empty list: any priority).
    pub priority: Option<Vec<Priority>>,
    /// Inclusive.
    pub created_from: Option<DateTime<Utc>>,
    /// Inclusive.
    pub created_to: Option<DateTime<Utc>>,
    /// Inclusive.
    pub deadline_from: Option<Date>,
    /// Inclusive.
    pub deadline_to: Option<Date>,
    /// `true`: open and the deadline is before today (UTC); `false`: all others.
    pub overdue: Option<bool>,
    /// Case-insensitive substring of the title or description; `%` and `_` are literal.
    /// A defect key (`СК1-042`) or a bare number (`42`) also matches those defects exactly.
    pub search: Option<String>,
    /// Defects pinned on this plan.
    pub plan_id: Option<ID>,
}

impl From<DefectFilterInput> for filter::DefectFilter {
    fn from(f: DefectFilterInput) -> Self {
        let id = |v: Option<ID>| v.map(|i| validate::id_or_nothing(i.as_str()));
        filter::DefectFilter {
            project_id: id(f.project_id),
            stage_id: id(f.stage_id),
            performer_id: id(f.performer_id),
            author_id: id(f.author_id),
            status: f.status.unwrap_or_default(),
            priority: f.priority.unwrap_or_default(),
            created_from: f.created_from,
            created_to: f.created_to,
            deadline_from: f.deadline_from.map(|d| d.0),
            deadline_to: f.deadline_to.map(|d| d.0),
            overdue: f.overdue,
            search: f.search,
            plan_id: id(f.plan_id),
        }
    }
}

#[derive(InputObject)]
pub struct CreateDefectInput {
    pub project_id: ID,
    pub stage_id: Option<ID>,
    pub title: String,
    pub description: Option<String>,
    /// Default MEDIUM.
    pub priority: Option<Priority>,
    pub deadline: Option<Date>,
    /// Managers only: an active ENGINEER who is a member of the project.
    pub performer_id: Option<ID>,
    /// A pin on a plan of the same project.
    pub location: Option<DefectLocationInput>,
}

/// An omitted field is left as it is; an explicit null clears a nullable field.
#[derive(InputObject)]
pub struct UpdateDefectInput {
    pub stage_id: MaybeUndefined<ID>,
    pub title: MaybeUndefined<String>,
    pub description: MaybeUndefined<String>,
    pub priority: MaybeUndefined<Priority>,
    pub deadline: MaybeUndefined<Date>,
    /// A pin on a plan of the defect's project; null removes the pin.
    pub location: MaybeUndefined<DefectLocationInput>,
}

/// A stage or performer id in input: one that is not ours is reported against its field.
pub(super) fn input_id(field: &str, raw: &ID) -> async_graphql::Result<i32> {
    validate::id_or_bad_input(
        raw.as_str(),
        crate::error::Msg::NoSuchObject {
            field: field.into(),
        },
    )
    .gql()
}
