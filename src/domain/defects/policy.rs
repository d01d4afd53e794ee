//! Who may act on defects, comments and attachments (the contract's matrix).
use crate::i18n::Msg;
use crate::{
    auth::Viewer,
    entities::{defects, enums::Role},
    error::{AppError, AppResult},
};

/// Managers and admins; engineers only in projects they belong to.
pub fn can_create(viewer: &Viewer, is_member: bool) -> bool {
    viewer.role.is_manager() || (viewer.role == Role::Engineer && is_member)
}

/// The defect's author or performer.
pub fn is_own(viewer: &Viewer, defect: &defects::Model) -> bool {
    defect.author_id == viewer.id || defect.performer_id == Some(viewer.id)
}

/// Edit title, description, stage, priority, deadline.
pub fn can_edit(viewer: &Viewer, defect: &defects::Model) -> bool {
    viewer.role.is_manager() || (viewer.role == Role::Engineer && is_own(viewer, defect))
}

/// Assign or unassign a performer; delete a defect.
pub fn can_manage(viewer: &Viewer) -> bool {
    viewer.role.is_manager()
}

/// Import defects from a spreadsheet (FIELD.md): admins and managers.
pub fn can_import(viewer: &Viewer) -> bool {
    viewer.role.is_manager()
}

/// Bring back a soft-deleted defect (and see the deleted ones).
pub fn can_restore(viewer: &Viewer) -> bool {
    viewer.role.is_manager()
}

/// Whether the defect a comment or attachment belongs to may be shown with it. The child
/// was reached through a defect the viewer sees, so the project is visible; what is left
/// is the deleted case: a soft-deleted defect is shown to those who see the deleted ones
/// (`deletedDefects`), and is gone for everyone else, as through every other reader.
pub fn shows_parent(viewer: &Viewer, defect: &defects::Model) -> bool {
    defect.deleted_at.is_none() || can_restore(viewer)
}

/// Remove a soft-deleted defect for good: admins only.
pub fn can_purge(viewer: &Viewer) -> bool {
    viewer.role == Role::Admin
}

/// Everyone who sees a defect may comment on it.
pub fn can_comment(_viewer: &Viewer) -> bool {
    true
}

pub fn can_upload(viewer: &Viewer, defect: &defects::Model) -> bool {
    can_edit(viewer, defect)
}

pub fn can_delete_attachment(viewer: &Viewer, uploaded_by: i32) -> bool {
    viewer.role.is_manager() || (viewer.role == Role::Engineer && uploaded_by == viewer.id)
}

/// Open and the deadline is before `today` (the list's `overdue` filter says the same
/// in SQL: `filter::overdue_condition`).
pub fn is_overdue(defect: &defects::Model, today: chrono::NaiveDate) -> bool {
    !defect.status.is_final() && defect.deadline.is_some_and(|d| d < today)
}

/// A final defect (CLOSED or CANCELLED) keeps its fields, performer and attachments;
/// only comments may still be added. BAD_USER_INPUT with `refusal` (given the status),
/// which names the field and says what the refusal means for this action.
pub fn refuse_final(
    defect: &defects::Model,
    refusal: impl FnOnce(&'static str) -> Msg,
) -> AppResult<()> {
    if defect.status.is_final() {
        return Err(AppError::BadUserInput(refusal(defect.status.name())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::enums::{DefectStatus, Priority};

    fn defect(author: i32, performer: Option<i32>) -> defects::Model {
        let now = chrono::Utc::now();
        defects::Model {
            number: 1,
            id: 1,
            project_id: 1,
            stage_id: None,
            title: "t".into(),
            description: String::new(),
            search_text: String::new(),
            priority: Priority::Low,
            status: DefectStatus::New,
            performer_id: performer,
            author_id: author,
            deadline: None,
            version: 1,
            created_at: now,
            updated_at: now,
            closed_at: None,
            deleted_at: None,
            plan_id: None,
            location_x: None,
            location_y: None,
            location_label: None,
        }
    }

    fn v(id: i32, role: Role) -> Viewer {
        Viewer {
            id,
            username: "x".into(),
            role,
            via: crate::auth::viewer::Via::Session,
        }
    }

    #[test]
    fn the_matrix_for_defects() {
        let others = defect(100, Some(101));
        let authored = defect(7, None);
        let performed = defect(100, Some(7));
        for role in [Role::Admin, Role::Manager] {
            let me = v(7, role);
            assert!(
                can_create(&me, false)
                    && can_edit(&me, &others)
                    && can_manage(&me)
                    && can_upload(&me, &others)
            );
            assert!(can_delete_attachment(&me, 100));
        }
        let eng = v(7, Role::Engineer);
        assert!(can_create(&eng, true) && !can_create(&eng, false));
        assert!(
            !can_edit(&eng, &others) && can_edit(&eng, &authored) && can_edit(&eng, &performed)
        );
        assert!(!can_manage(&eng));
        assert!(can_upload(&eng, &performed) && !can_upload(&eng, &others));
        assert!(can_delete_attachment(&eng, 7) && !can_delete_attachment(&eng, 8));
        let obs = v(7, Role::Observer);
        assert!(!can_create(&obs, true) && !can_edit(&obs, &authored) && !can_manage(&obs));
        assert!(!can_upload(&obs, &authored) && !can_delete_attachment(&obs, 7));
        assert!(can_comment(&obs) && can_comment(&eng));
        for (role, restore, purge) in [
            (Role::Admin, true, true),
            (Role::Manager, true, false),
            (Role::Engineer, false, false),
            (Role::Observer, false, false),
        ] {
            assert_eq!(can_restore(&v(7, role)), restore, "{role:?}");
            assert_eq!(can_purge(&v(7, role)), purge, "{role:?}");
        }
    }

    #[test]
    fn a_deleted_parent_shows_only_to_those_who_see_the_trash() {
        let live = defect(100, None);
        let deleted = defects::Model {
            deleted_at: Some(chrono::Utc::now()),
            ..defect(100, None)
        };
        for (role, sees_deleted) in [
            (Role::Admin, true),
            (Role::Manager, true),
            (Role::Engineer, false),
            (Role::Observer, false),
        ] {
            assert!(shows_parent(&v(7, role), &live), "{role:?}");
            assert_eq!(
                shows_parent(&v(7, role), &deleted),
                sees_deleted,
                "{role:?}"
            );
        }
    }
}
