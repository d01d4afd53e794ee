//! A project's site settings (NOTIFY.md, "Site time" and "SLA"): its time zone, its SLA
//! rules and when open defects past their deadline are escalated. Checked here, stored
//! on the project row (`time_zone`, `sla` as JSON, `escalate_after_days`).
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::site_time;
use crate::{
    entities::{enums::Priority, projects},
    error::{AppError, AppResult},
    i18n::Msg,
};

/// Days an SLA rule or the escalation may name.
pub const DAYS: std::ops::RangeInclusive<i32> = 1..=365;

/// A default deadline: `days` after the local creation date, for defects of `priority`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaRule {
    pub priority: Priority,
    pub days: i32,
}

/// The zone's canonical IANA name, or BAD_USER_INPUT naming `timeZone`.
pub fn time_zone(name: &str) -> AppResult<String> {
    site_time::parse(name.trim())
        .map(|tz| tz.name().to_owned())
        .ok_or_else(|| {
            AppError::BadUserInput(Msg::UnknownTimeZone {
                field: "timeZone".into(),
                name: name.chars().take(64).collect(),
            })
        })
}

fn days(field: &str, days: i32) -> AppResult<i32> {
    if DAYS.contains(&days) {
        Ok(days)
    } else {
        Err(AppError::BadUserInput(Msg::DaysBetween {
            field: field.into(),
            min: i64::from(*DAYS.start()),
            max: i64::from(*DAYS.end()),
        }))
    }
}

/// The rules as stored (JSON, in priority order), or BAD_USER_INPUT naming `sla`: at most
/// one rule per priority, `days` 1..365.
pub fn sla(rules: &[SlaRule]) -> AppResult<String> {
    let mut sorted = Vec::with_capacity(rules.len());
    for r in rules {
        days("sla", r.days)?;
        if sorted.iter().any(|s: &SlaRule| s.priority == r.priority) {
            return Err(AppError::BadUserInput(Msg::SlaPriorityTwice {
                field: "sla".into(),
                priority: match r.priority {
                    Priority::Low => "LOW",
                    Priority::Medium => "MEDIUM",
                    Priority::High => "HIGH",
                },
            }));
        }
        sorted.push(*r);
    }
    sorted.sort_by_key(|r| r.priority as i32);
    serde_json::to_string(&sorted).map_err(AppError::internal)
}

/// `escalateAfterDays`: None (never) or 1..365, else BAD_USER_INPUT naming it.
pub fn escalate_after_days(value: Option<i32>) -> AppResult<Option<i32>> {
    value.map(|d| days("escalateAfterDays", d)).transpose()
}

/// The project's stored rules (none if the column does not hold rules, which the checks
/// above prevent).
pub fn rules(project: &projects::Model) -> Vec<SlaRule> {
    serde_json::from_str(&project.sla).unwrap_or_default()
}

/// The deadline a defect of `priority` created at `now` gets when none is given: the
/// project's local date at `now` plus the rule's days; None without a rule.
pub fn sla_deadline(
    project: &projects::Model,
    priority: Priority,
    now: DateTime<Utc>,
) -> Option<NaiveDate> {
    let rule = rules(project)
        .into_iter()
        .find(|r| r.priority == priority)?;
    let local = site_time::today_in(site_time::zone(&project.time_zone), now);
    local.checked_add_days(Days::new(u64::try_from(rule.days).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(priority: Priority, days: i32) -> SlaRule {
        SlaRule { priority, days }
    }

    #[test]
    fn rules_are_checked_and_stored_in_priority_order() {
        let stored = sla(&[rule(Priority::High, 3), rule(Priority::Low, 30)]).unwrap();
        assert_eq!(
            stored,
            r#"[{"priority":"LOW","days":30},{"priority":"HIGH","days":3}]"#
        );
        assert_eq!(sla(&[]).unwrap(), "[]");
        for bad in [
            vec![rule(Priority::High, 0)],
            vec![rule(Priority::High, 366)],
            vec![rule(Priority::High, 3), rule(Priority::High, 4)],
        ] {
            assert!(
                matches!(sla(&bad), Err(AppError::BadUserInput(_))),
                "{bad:?}"
            );
        }
        assert_eq!(escalate_after_days(None).unwrap(), None);
        assert_eq!(escalate_after_days(Some(365)).unwrap(), Some(365));
        assert!(escalate_after_days(Some(0)).is_err());
        assert_eq!(time_zone("Asia/Novosibirsk").unwrap(), "Asia/Novosibirsk");
        assert!(time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn the_deadline_counts_from_the_local_creation_date() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let project = projects::Model {
            id: 1,
            title: String::new(),
            code: None,
            code_key: None,
            description: String::new(),
            start_date: None,
            end_date: None,
            status: crate::entities::enums::ProjectStatus::Active,
            search_text: String::new(),
            created_at: now,
            updated_at: now,
            time_zone: "Asia/Novosibirsk".into(),
            sla: sla(&[rule(Priority::High, 3)]).unwrap(),
            escalate_after_days: None,
        };
        let d = sla_deadline(&project, Priority::High, now).unwrap();
        assert_eq!(d.to_string(), "2026-12-11");
        assert_eq!(sla_deadline(&project, Priority::Low, now), None);
    }
}
