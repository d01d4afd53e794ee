//! A project's site settings in the schema (NOTIFY.md): `SlaRule`, `SlaRuleInput`.
use async_graphql::{InputObject, SimpleObject};

use crate::{domain::projects::settings, entities::enums::Priority};

/// A default deadline: `days` after the local creation date, for defects of `priority`.
#[derive(SimpleObject, Clone, Copy)]
pub struct SlaRule {
    pub priority: Priority,
    pub days: i32,
}

impl From<settings::SlaRule> for SlaRule {
    fn from(r: settings::SlaRule) -> Self {
        SlaRule {
            priority: r.priority,
            days: r.days,
        }
    }
}

/// At most one rule per priority; `days` 1..365.
#[derive(InputObject, Clone, Copy)]
pub struct SlaRuleInput {
    pub priority: Priority,
    pub days: i32,
}

pub fn rules(input: Vec<SlaRuleInput>) -> Vec<settings::SlaRule> {
    input
        .into_iter()
        .map(|r| settings::SlaRule {
            priority: r.priority,
            days: r.days,
        })
        .collect()
}
