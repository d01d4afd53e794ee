//! A notification's line from its rows: the [`Facts`] that `text::line` words, built
//! from the defect (key, title), its project (code, time zone), the actor and the event
//! (the new status, the new deadline).
use chrono::{DateTime, NaiveDate, Utc};

use super::text::{Facts, line};
use crate::{
    domain::{defects::journal, defects::keys, projects::site_time},
    entities::{
        defect_events, defects,
        enums::{DefectStatus, NotificationKind},
        notifications, projects, users,
    },
};

/// What the line of one notification is made of (all already loaded).
pub struct Rows<'a> {
    pub notification: &'a notifications::Model,
    pub defect: &'a defects::Model,
    pub project: Option<&'a projects::Model>,
    pub actor: Option<&'a users::Model>,
    pub event: Option<&'a defect_events::Model>,
}

/// The notification's line in `lang` (`en` or `ru`).
pub fn text(lang: &str, rows: &Rows<'_>) -> String {
    let n = rows.notification;
    let key = match rows.project.and_then(|p| p.code.as_deref()) {
        Some(code) => keys::format(code, rows.defect.number),
        None => format!("#{}", rows.defect.number),
    };
    let actor = rows.actor.map(|u| {
        if u.full_name.trim().is_empty() {
            u.username.as_str()
        } else {
            u.full_name.as_str()
        }
    });
    let changed = |field: &str| {
        rows.event.and_then(|e| {
            journal::changes_of(e)
                .into_iter()
                .find(|c| c.field == field)
                .and_then(|c| c.to)
        })
    };
    let status = changed("status")
        .and_then(|s| serde_json::from_value::<DefectStatus>(serde_json::Value::String(s)).ok());
    let deadline = n.deadline.or_else(|| {
        changed("deadline").and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
    });
    let zone = rows.project.map_or("UTC", |p| p.time_zone.as_str());
    let days_late = days_late(n.kind, deadline, n.created_at, zone);
    let facts = Facts {
        key: &key,
        title: &rows.defect.title,
        actor,
        status,
        deadline,
        days_late,
    };
    line(lang, n.kind, &facts)
}

/// OVERDUE, ESCALATED: whole days from the deadline to the site's date when the
/// notification was created (in the project's zone).
pub fn days_late(
    kind: NotificationKind,
    deadline: Option<NaiveDate>,
    created_at: DateTime<Utc>,
    zone: &str,
) -> Option<i64> {
    match kind {
        NotificationKind::Overdue | NotificationKind::Escalated => deadline
            .map(|d| (site_time::today_in(site_time::zone(zone), created_at) - d).num_days()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_late_count_in_the_sites_zone_and_only_for_the_late_kinds() {
        // 20:00 UTC on the 7th is already the 8th in Novosibirsk (UTC+7).
        let created = DateTime::parse_from_rfc3339("2026-12-07T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let deadline = NaiveDate::from_ymd_opt(2026, 12, 5);
        use NotificationKind::{DueSoon, Escalated, Overdue};
        for (kind, zone, want) in [
            (Overdue, "Asia/Novosibirsk", Some(3)),
            (Overdue, "UTC", Some(2)),
            (Escalated, "Asia/Novosibirsk", Some(3)),
            (DueSoon, "UTC", None),
        ] {
            assert_eq!(
                days_late(kind, deadline, created, zone),
                want,
                "{kind:?} {zone}"
            );
        }
        assert_eq!(days_late(Overdue, None, created, "UTC"), None);
    }
}
