//! The defect status machine: which moves exist and who may make them. The service
//! and `allowedTransitions` both ask [`check`], so what the UI offers is exactly what
//! the server accepts.
use crate::i18n::Msg;
use crate::{
    auth::Viewer,
    entities::{
        defects,
        enums::{DefectStatus, Role},
    },
};

use DefectStatus::*;

/// Who may make a move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Managers,
    ManagersOrPerformer,
}

/// The moves of the machine; anything else is refused.
const MOVES: [(DefectStatus, DefectStatus, Who); 6] = [
    (New, InProgress, Who::Managers),
    (New, Cancelled, Who::Managers),
    (InProgress, Review, Who::ManagersOrPerformer),
    (InProgress, Cancelled, Who::Managers),
    (Review, Closed, Who::Managers),
    (Review, InProgress, Who::Managers),
];

/// The caller as the machine sees them.
#[derive(Clone, Copy, Debug)]
pub struct Mover {
    pub role: Role,
    /// The caller performs this defect.
    pub is_performer: bool,
}

impl Mover {
    /// The viewer as the machine sees them for this defect.
    pub fn of(viewer: &Viewer, defect: &defects::Model) -> Self {
        Mover {
            role: viewer.role,
            is_performer: defect.performer_id == Some(viewer.id),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The machine has no such move (INVALID_TRANSITION).
    Invalid(Msg),
    /// The move exists but this caller may not make it (FORBIDDEN).
    Forbidden(Msg),
}

fn name(s: DefectStatus) -> &'static str {
    s.name()
}

fn why_invalid(from: DefectStatus, to: DefectStatus) -> Msg {
    match (from, to) {
        _ if from == to => Msg::AlreadyInStatus { status: name(to) },
        (Closed | Cancelled, _) => Msg::StatusFinal { status: name(from) },
        (_, Closed) => Msg::CloseNeedsReview,
        (_, Review) => Msg::ReviewNeedsProgress,
        (_, New) => Msg::NoBackToNew,
        (Review, Cancelled) => Msg::ReviewNotCancelled,
        _ => Msg::NoMove {
            from: name(from),
            to: name(to),
        },
    }
}

/// Decides one move. `has_performer`: `IN_PROGRESS` needs someone to do the work.
pub fn check(
    from: DefectStatus,
    to: DefectStatus,
    mover: Mover,
    has_performer: bool,
) -> Result<(), Refusal> {
    let Some((_, _, who)) = MOVES.iter().find(|(f, t, _)| *f == from && *t == to) else {
        return Err(Refusal::Invalid(why_invalid(from, to)));
    };
    let manager = mover.role.is_manager();
    let allowed = match who {
        Who::Managers => manager,
        Who::ManagersOrPerformer => manager || (mover.role == Role::Engineer && mover.is_performer),
    };
    if !allowed {
        return Err(Refusal::Forbidden(match who {
            Who::Managers => Msg::OnlyManagersMove {
                from: name(from),
                to: name(to),
            },
            Who::ManagersOrPerformer => Msg::OnlyPerformerReview,
        }));
    }
    if to == InProgress && !has_performer {
        return Err(Refusal::Invalid(Msg::AssignBeforeStart));
    }
    Ok(())
}

/// Every status the mover may move the defect to now, in enum order.
pub fn allowed(from: DefectStatus, mover: Mover, has_performer: bool) -> Vec<DefectStatus> {
    [New, InProgress, Review, Closed, Cancelled]
        .into_iter()
        .filter(|to| check(from, *to, mover, has_performer).is_ok())
        .collect()
}

/// The statuses the viewer may move this defect to now (`allowedTransitions`).
pub fn allowed_to(viewer: &Viewer, defect: &defects::Model) -> Vec<DefectStatus> {
    allowed(
        defect.status,
        Mover::of(viewer, defect),
        defect.performer_id.is_some(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [DefectStatus; 5] = [New, InProgress, Review, Closed, Cancelled];
    const ROLES: [Role; 4] = [Role::Admin, Role::Manager, Role::Engineer, Role::Observer];

    /// The contract's table, written out independently of `MOVES`.
    fn expected(role: Role, performer: bool, from: DefectStatus, to: DefectStatus) -> &'static str {
        let manager = matches!(role, Role::Admin | Role::Manager);
        let exists = matches!(
            (from, to),
            (New, InProgress)
                | (New, Cancelled)
                | (InProgress, Review)
                | (InProgress, Cancelled)
                | (Review, Closed)
                | (Review, InProgress)
        );
        if !exists {
            return "invalid";
        }
        let may =
            manager || ((from, to) == (InProgress, Review) && role == Role::Engineer && performer);
        if may { "ok" } else { "forbidden" }
    }

    #[test]
    fn every_role_from_and_to_matches_the_contract() {
        for role in ROLES {
            for performer in [false, true] {
                for from in ALL {
                    for to in ALL {
                        let got = match check(
                            from,
                            to,
                            Mover {
                                role,
                                is_performer: performer,
                            },
                            true,
                        ) {
                            Ok(()) => "ok",
                            Err(Refusal::Invalid(_)) => "invalid",
                            Err(Refusal::Forbidden(_)) => "forbidden",
                        };
                        assert_eq!(
                            got,
                            expected(role, performer, from, to),
                            "{role:?} performer={performer} {from:?}->{to:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn work_cannot_start_without_a_performer() {
        let m = Mover {
            role: Role::Manager,
            is_performer: false,
        };
        assert!(matches!(
            check(New, InProgress, m, false),
            Err(Refusal::Invalid(_))
        ));
        assert!(matches!(
            check(Review, InProgress, m, false),
            Err(Refusal::Invalid(_))
        ));
        assert!(!allowed(New, m, false).contains(&InProgress));
        assert_eq!(allowed(New, m, true), vec![InProgress, Cancelled]);
    }

    #[test]
    fn final_states_allow_nothing() {
        for role in ROLES {
            for from in [Closed, Cancelled] {
                assert!(
                    allowed(
                        from,
                        Mover {
                            role,
                            is_performer: true
                        },
                        true
                    )
                    .is_empty()
                );
            }
        }
    }

    #[test]
    fn allowed_lists_what_check_accepts() {
        let eng = Mover {
            role: Role::Engineer,
            is_performer: true,
        };
        assert_eq!(allowed(InProgress, eng, true), vec![Review]);
        assert!(allowed(Review, eng, true).is_empty());
        let obs = Mover {
            role: Role::Observer,
            is_performer: false,
        };
        for from in ALL {
            assert!(allowed(from, obs, true).is_empty());
        }
        let mgr = Mover {
            role: Role::Manager,
            is_performer: false,
        };
        assert_eq!(allowed(Review, mgr, true), vec![InProgress, Closed]);
    }

    #[test]
    fn refusals_say_why() {
        let m = Mover {
            role: Role::Admin,
            is_performer: false,
        };
        let Err(Refusal::Invalid(msg)) = check(New, Closed, m, true) else {
            panic!()
        };
        assert_eq!(msg, Msg::CloseNeedsReview);
        let Err(Refusal::Invalid(msg)) = check(Closed, InProgress, m, true) else {
            panic!()
        };
        assert_eq!(msg, Msg::StatusFinal { status: "CLOSED" });
    }
}

/// The moves that take a new defect to `status` by the shortest way the machine allows,
/// oldest first (empty for `NEW`). The seed and the tests walk defects along it, so a
/// change to the machine is made here once, not in every place that builds data.
pub fn path_to(status: DefectStatus) -> &'static [DefectStatus] {
    match status {
        New => &[],
        InProgress => &[InProgress],
        Review => &[InProgress, Review],
        Closed => &[InProgress, Review, Closed],
        Cancelled => &[Cancelled],
    }
}

#[cfg(test)]
mod path_tests {
    use super::*;

    /// A manager with a performer assigned may make every move, so each step of the
    /// path must be one the machine accepts, from `NEW`, ending at the target.
    #[test]
    fn every_path_is_made_of_moves_the_machine_accepts() {
        let manager = Mover {
            role: Role::Manager,
            is_performer: false,
        };
        for target in [New, InProgress, Review, Closed, Cancelled] {
            let mut at = New;
            for &to in path_to(target) {
                assert_eq!(
                    check(at, to, manager, true),
                    Ok(()),
                    "{target:?}: {at:?}->{to:?}"
                );
                at = to;
            }
            assert_eq!(at, target);
        }
    }

    /// Shortest: no path visits a status twice, and none could skip a step.
    #[test]
    fn paths_are_the_shortest() {
        assert_eq!(path_to(Closed), &[InProgress, Review, Closed]);
        for target in [InProgress, Review, Closed, Cancelled] {
            let path = path_to(target);
            for (i, s) in path.iter().enumerate() {
                assert!(!path[i + 1..].contains(s), "{target:?} revisits {s:?}");
            }
            // Skipping any one step leaves a move the machine refuses.
            for skip in 0..path.len() - 1 {
                let mut at = New;
                let mut refused = false;
                for (i, &to) in path.iter().enumerate() {
                    if i == skip {
                        continue;
                    }
                    let manager = Mover {
                        role: Role::Manager,
                        is_performer: false,
                    };
                    if check(at, to, manager, true).is_err() {
                        refused = true;
                        break;
                    }
                    at = to;
                }
                assert!(refused, "{target:?} without step {skip} still works");
            }
        }
    }
}
