//! Who manages webhooks and whose events a webhook receives (NOTIFY.md, "Webhooks"):
//! pure rules, tested as tables.
use std::time::Duration;

use crate::entities::enums::Role;

/// Attempts of one delivery before it is FAILED.
pub const MAX_ATTEMPTS: i32 = 10;
/// The ceiling of the wait before the first retry (jittered between half and all of it).
pub const FIRST_RETRY: Duration = Duration::from_secs(30);
/// The longest wait between two attempts.
pub const RETRY_CAP: Duration = Duration::from_secs(3600);

/// What a viewer may do with webhooks of a scope (`None`: every project).
#[derive(Debug, PartialEq, Eq)]
pub enum Manage {
    Yes,
    /// The role never manages webhooks, or the scope is not theirs: FORBIDDEN.
    Forbidden,
}

/// Admins: any project or every project; managers: a project they are a member of;
/// nobody else.
pub fn manage(role: Role, project: Option<i32>, member: bool) -> Manage {
    match (role, project) {
        (Role::Admin, _) => Manage::Yes,
        (Role::Manager, Some(_)) if member => Manage::Yes,
        _ => Manage::Forbidden,
    }
}

/// Whether a role may list or manage any webhook at all (engineers and observers: no).
pub fn may_use(role: Role) -> bool {
    role.is_manager()
}

/// How far a webhook's creator reaches now, in terms of `defects::live::Access`: an
/// admin sees every project (as `Role::Admin`); a manager only the projects they are a
/// member of (checked as an engineer is: by membership), though a manager sees every
/// project elsewhere, because removing them from the project must stop the deliveries;
/// anyone else (a creator since demoted) nothing.
pub fn reach(role: Role) -> Option<Role> {
    match role {
        Role::Admin => Some(Role::Admin),
        Role::Manager => Some(Role::Engineer),
        _ => None,
    }
}

/// Whether an event of `kind` in `project` is for a webhook of `scope` and `kinds`
/// (names; empty = every kind).
pub fn matches(scope: Option<i32>, kinds: &[String], project: i32, kind: &str) -> bool {
    scope.is_none_or(|p| p == project) && (kinds.is_empty() || kinds.iter().any(|k| k == kind))
}

/// The wait before the next attempt after `attempts` failed ones, or None when the
/// delivery is FAILED.
pub fn retry_after(attempts: i32) -> Option<Duration> {
    (attempts < MAX_ATTEMPTS)
        .then(|| crate::engine::jobs::backoff(attempts, FIRST_RETRY, RETRY_CAP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_manages_which_scope() {
        let table = [
            (Role::Admin, None, false, Manage::Yes),
            (Role::Admin, Some(1), false, Manage::Yes),
            (Role::Manager, Some(1), true, Manage::Yes),
            (Role::Manager, Some(1), false, Manage::Forbidden),
            (Role::Manager, None, true, Manage::Forbidden),
            (Role::Engineer, Some(1), true, Manage::Forbidden),
            (Role::Observer, Some(1), true, Manage::Forbidden),
        ];
        for (role, project, member, want) in table {
            assert_eq!(manage(role, project, member), want, "{role:?} {project:?}");
        }
        assert!(may_use(Role::Admin) && may_use(Role::Manager));
        assert!(!may_use(Role::Engineer) && !may_use(Role::Observer));
    }

    #[test]
    fn a_creator_reaches_by_role_and_managers_by_membership() {
        assert_eq!(reach(Role::Admin), Some(Role::Admin));
        assert_eq!(reach(Role::Manager), Some(Role::Engineer));
        assert_eq!(reach(Role::Engineer), None);
        assert_eq!(reach(Role::Observer), None);
    }

    #[test]
    fn scope_and_kinds() {
        let kinds = vec!["CREATED".to_owned()];
        assert!(matches(None, &[], 3, "UPDATED"));
        assert!(matches(Some(3), &kinds, 3, "CREATED"));
        assert!(!matches(Some(3), &kinds, 3, "UPDATED"));
        assert!(!matches(Some(4), &[], 3, "CREATED"));
    }

    #[test]
    fn retries_start_within_30_s_span_over_an_hour_then_stop() {
        for _ in 0..50 {
            let first = retry_after(1).expect("retried");
            assert!(first <= Duration::from_secs(30), "{first:?}");
            // The shortest possible schedule (every jitter at its floor) still spans an hour.
            let total: Duration = (1..MAX_ATTEMPTS)
                .map(|a| retry_after(a).expect("retried"))
                .sum();
            assert!(total >= Duration::from_secs(3600), "{total:?}");
        }
        const { assert!(MAX_ATTEMPTS >= 6) };
        assert_eq!(retry_after(MAX_ATTEMPTS), None);
    }
}
