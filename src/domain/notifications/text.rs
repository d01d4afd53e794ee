//! The one line of a notification, in the recipient's language (NOTIFY.md: "`text` is
//! one line in the recipient's language"). Used by `Notification.text` and the e-mail.
use chrono::NaiveDate;

use crate::entities::enums::{DefectStatus, NotificationKind};

/// What a notification's line says.
#[derive(Clone, Debug, Default)]
pub struct Facts<'a> {
    /// `СК1-042` (or `#42` when the project has no code).
    pub key: &'a str,
    pub title: &'a str,
    /// Who caused it (display name), if an event did.
    pub actor: Option<&'a str>,
    /// STATUS_CHANGED / REVIEW_REQUESTED: the new status.
    pub status: Option<DefectStatus>,
    /// DEADLINE_CHANGED, DUE_SOON, OVERDUE, ESCALATED: the deadline.
    pub deadline: Option<NaiveDate>,
    /// OVERDUE, ESCALATED: whole days past the deadline when it was created.
    pub days_late: Option<i64>,
}

/// The line for `kind` in `lang` (`en` or `ru`; anything else reads as `en`).
/// PLACEHOLDER until the Fluent messages land: English only.
pub fn line(_lang: &str, kind: NotificationKind, facts: &Facts<'_>) -> String {
    format!("{} «{}»: {:?}", facts.key, facts.title, kind)
}
