//! Who is concerned by one journal event, and how (NOTIFY.md, "Notifications"): the
//! recipients table and the precedence as functions of plain data, table-tested below.
//! Whether a candidate is active and can see the defect, and whether they muted the
//! kind, is decided afterwards (`derive.rs`, `store::insert`), so the choice of kind here
//! comes first and muting applies to the chosen kind only.
use std::collections::HashMap;

use crate::{
    domain::defects::journal::FieldChange,
    entities::enums::{DefectEventKind, DefectStatus, NotificationKind},
};

/// What an event did that can notify anyone, read from its `changes` (not only its
/// kind: one update may change the performer and the deadline together).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct What {
    /// The performer it set (created with one, or a change of `performer` to someone).
    pub assigned: Option<i32>,
    /// `deadline` is among the changes (set, moved or cleared).
    pub deadline: bool,
    /// The status it moved to (a `status` change with a `from`: a CREATED event lists
    /// the initial status with `from: null`, which is no move).
    pub status: Option<String>,
    /// A COMMENTED event (its comment's body is read for mentions).
    pub commented: bool,
}

impl What {
    pub fn of(kind: DefectEventKind, changes: &[FieldChange]) -> What {
        let mut what = What {
            commented: kind == DefectEventKind::Commented,
            ..What::default()
        };
        for c in changes {
            match c.field.as_str() {
                "performer" => what.assigned = c.to.as_deref().and_then(|v| v.parse().ok()),
                "deadline" => what.deadline = true,
                "status" if c.from.is_some() && c.from != c.to => what.status.clone_from(&c.to),
                _ => {}
            }
        }
        what
    }

    /// Whether anyone at all may be notified (else the event costs no statement).
    pub fn notifies(&self) -> bool {
        self.assigned.is_some() || self.deadline || self.status.is_some() || self.commented
    }

    /// A move to REVIEW: the project's managers are asked to review.
    pub fn review(&self) -> bool {
        self.status.as_deref() == Some(DefectStatus::Review.name())
    }

    /// Whether the defect's watchers are concerned (a status move or a comment).
    pub fn concerns_watchers(&self) -> bool {
        self.status.is_some() || self.commented
    }
}

/// The people around one event.
#[derive(Clone, Debug, Default)]
pub struct Who<'a> {
    /// The event's actor: never notified of their own act.
    pub actor: i32,
    /// The defect's performer as of the event (after it): told of a deadline change.
    pub performer: Option<i32>,
    /// The project's managers (members with role MANAGER).
    pub managers: &'a [i32],
    /// The defect's watchers (watching, not unwatched).
    pub watchers: &'a [i32],
    /// Users named `@username` in the comment.
    pub mentioned: &'a [i32],
}

/// The candidates for one event: at most one kind per user, the first of
/// [`NotificationKind::PRECEDENCE`] that applies; never the actor. Sorted by user.
pub fn recipients(what: &What, who: &Who) -> Vec<(i32, NotificationKind)> {
    use NotificationKind as K;
    let mut pairs: Vec<(i32, NotificationKind)> = Vec::new();
    if let Some(p) = what.assigned {
        pairs.push((p, K::Assigned));
    }
    if what.deadline
        && let Some(p) = who.performer
    {
        pairs.push((p, K::DeadlineChanged));
    }
    if what.review() {
        pairs.extend(who.managers.iter().map(|&m| (m, K::ReviewRequested)));
    }
    if what.status.is_some() {
        pairs.extend(who.watchers.iter().map(|&w| (w, K::StatusChanged)));
    }
    if what.commented {
        pairs.extend(who.mentioned.iter().map(|&m| (m, K::Mentioned)));
        pairs.extend(who.watchers.iter().map(|&w| (w, K::Commented)));
    }
    let rank = |k: NotificationKind| K::PRECEDENCE.iter().position(|&p| p == k);
    let mut best: HashMap<i32, NotificationKind> = HashMap::new();
    for (user, kind) in pairs {
        if user == who.actor {
            continue;
        }
        best.entry(user)
            .and_modify(|k| {
                if rank(kind) < rank(*k) {
                    *k = kind;
                }
            })
            .or_insert(kind);
    }
    let mut out: Vec<_> = best.into_iter().collect();
    out.sort_unstable_by_key(|&(user, _)| user);
    out
}

/// The performer of each event's defect as of that event (after it), for events given
/// in id order: the defect's current performer (`now`), walked back through the later
/// events of the batch that changed it (each one's `from`). Events after the batch are
/// not seen: a reassignment committed after the batch was read makes `now` newer than
/// the event (the engine reads a batch right after its commits, so this is rare).
pub fn performers_as_of(
    events: &[(i32, &[FieldChange])],
    now: &HashMap<i32, Option<i32>>,
) -> Vec<Option<i32>> {
    let mut current = now.clone();
    let mut out = vec![None; events.len()];
    for (i, &(defect, changes)) in events.iter().enumerate().rev() {
        let after = current.get(&defect).copied().flatten();
        out[i] = after;
        if let Some(c) = changes.iter().find(|c| c.field == "performer") {
            current.insert(defect, c.from.as_deref().and_then(|v| v.parse().ok()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use NotificationKind as K;

    fn change(field: &str, from: Option<&str>, to: Option<&str>) -> FieldChange {
        FieldChange {
            field: field.into(),
            from: from.map(Into::into),
            to: to.map(Into::into),
        }
    }

    /// What `(assigned, deadline, status, commented)`.
    fn what(assigned: Option<i32>, deadline: bool, status: Option<&str>, commented: bool) -> What {
        let status = status.map(Into::into);
        What {
            assigned,
            deadline,
            status,
            commented,
        }
    }

    #[test]
    fn what_an_event_did_comes_from_its_changes() {
        use DefectEventKind as E;
        let none = What::default();
        let table = [
            (
                E::Created,
                vec![change("title", None, Some("t"))],
                none.clone(),
            ),
            (
                E::Created,
                vec![
                    change("performer", None, Some("7")),
                    change("status", None, Some("NEW")),
                    change("deadline", None, Some("2026-12-31")),
                ],
                what(Some(7), true, None, false),
            ),
            (
                E::Updated,
                vec![
                    change("performer", Some("7"), Some("8")),
                    change("deadline", Some("2026-12-30"), None),
                ],
                what(Some(8), true, None, false),
            ),
            (
                E::Assigned,
                vec![change("performer", Some("7"), None)],
                none.clone(),
            ),
            (
                E::StatusChanged,
                vec![change("status", Some("IN_PROGRESS"), Some("REVIEW"))],
                what(None, false, Some("REVIEW"), false),
            ),
            (E::Commented, vec![], what(None, false, None, true)),
            (
                E::Updated,
                vec![change("title", Some("a"), Some("b"))],
                none.clone(),
            ),
            (E::AttachmentAdded, vec![], none.clone()),
            (E::AttachmentRemoved, vec![], none.clone()),
            (E::Deleted, vec![], none.clone()),
            (E::Restored, vec![], none.clone()),
        ];
        for (kind, changes, expected) in table {
            let got = What::of(kind, &changes);
            assert_eq!(got, expected, "{kind:?} {changes:?}");
            assert_eq!(got.notifies(), expected != none);
        }
    }

    #[test]
    fn the_recipients_table_with_precedence_and_without_the_actor() {
        const ACTOR: i32 = 1;
        const PERFORMER: i32 = 2;
        const MANAGER: i32 = 3;
        const WATCHER: i32 = 4;
        const MENTIONED: i32 = 5;
        let review = || what(None, false, Some("REVIEW"), false);
        type Row<'a> = (What, Who<'a>, Vec<(i32, NotificationKind)>);
        let table: Vec<Row> = vec![
            // Assigned: the new performer only.
            (
                what(Some(PERFORMER), false, None, false),
                Who {
                    actor: ACTOR,
                    watchers: &[WATCHER],
                    managers: &[MANAGER],
                    ..Who::default()
                },
                vec![(PERFORMER, K::Assigned)],
            ),
            // Performer and deadline together: ASSIGNED wins.
            (
                what(Some(PERFORMER), true, None, false),
                Who {
                    actor: ACTOR,
                    performer: Some(PERFORMER),
                    ..Who::default()
                },
                vec![(PERFORMER, K::Assigned)],
            ),
            // A deadline without a performer notifies no one.
            (
                what(None, true, None, false),
                Who {
                    actor: ACTOR,
                    ..Who::default()
                },
                vec![],
            ),
            (
                what(None, true, Some("IN_PROGRESS"), false),
                Who {
                    actor: ACTOR,
                    performer: Some(PERFORMER),
                    watchers: &[PERFORMER, WATCHER],
                    ..Who::default()
                },
                vec![(PERFORMER, K::DeadlineChanged), (WATCHER, K::StatusChanged)],
            ),
            // Review: managers asked, a watching manager gets REVIEW_REQUESTED only.
            (
                review(),
                Who {
                    actor: ACTOR,
                    managers: &[MANAGER],
                    watchers: &[MANAGER, WATCHER],
                    ..Who::default()
                },
                vec![(MANAGER, K::ReviewRequested), (WATCHER, K::StatusChanged)],
            ),
            // Other moves: watchers only, managers not asked.
            (
                what(None, false, Some("CLOSED"), false),
                Who {
                    actor: ACTOR,
                    managers: &[MANAGER],
                    watchers: &[WATCHER],
                    ..Who::default()
                },
                vec![(WATCHER, K::StatusChanged)],
            ),
            // A comment: a mentioned watcher gets MENTIONED only.
            (
                what(None, false, None, true),
                Who {
                    actor: ACTOR,
                    watchers: &[WATCHER, MENTIONED],
                    mentioned: &[MENTIONED],
                    ..Who::default()
                },
                vec![(WATCHER, K::Commented), (MENTIONED, K::Mentioned)],
            ),
            // Never the actor, whatever their part.
            (
                review(),
                Who {
                    actor: MANAGER,
                    managers: &[MANAGER],
                    watchers: &[MANAGER],
                    ..Who::default()
                },
                vec![],
            ),
            (
                what(None, false, None, true),
                Who {
                    actor: ACTOR,
                    watchers: &[ACTOR],
                    mentioned: &[ACTOR],
                    ..Who::default()
                },
                vec![],
            ),
            (
                what(Some(ACTOR), false, None, false),
                Who {
                    actor: ACTOR,
                    ..Who::default()
                },
                vec![],
            ),
        ];
        for (what, who, expected) in table {
            assert_eq!(recipients(&what, &who), expected, "{what:?} {who:?}");
        }
    }

    #[test]
    fn precedence_is_the_contracts_order() {
        // Every pair of kinds an event can give one user: the earlier one wins.
        let order = K::PRECEDENCE;
        assert_eq!(
            order,
            [
                K::Mentioned,
                K::ReviewRequested,
                K::Assigned,
                K::DeadlineChanged,
                K::StatusChanged,
                K::Commented
            ]
        );
    }

    #[test]
    fn the_performer_as_of_each_event_is_walked_back_from_now() {
        let d1 = [change("deadline", None, Some("2026-12-31"))];
        let reassign = [change("performer", Some("7"), Some("8"))];
        let both = [
            change("performer", Some("8"), Some("9")),
            change("deadline", None, None),
        ];
        let events: Vec<(i32, &[FieldChange])> =
            vec![(1, &d1), (1, &reassign), (2, &d1), (1, &both), (1, &d1)];
        let now = HashMap::from([(1, Some(9)), (2, None)]);
        assert_eq!(
            performers_as_of(&events, &now),
            vec![Some(7), Some(8), None, Some(9), Some(9)]
        );
    }
}
