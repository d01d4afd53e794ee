//! Who may do what with user accounts.
use crate::entities::enums::Role;

/// `users` and `user(id)`: managers and admins; everyone may read their own account.
pub fn can_list(role: Role) -> bool {
    role.is_manager()
}

/// Creating users, changing roles, deactivating: admins only.
pub fn can_manage(role: Role) -> bool {
    role == Role::Admin
}

/// A user's e-mail address: admins, managers and the user themself; `null` for anyone
/// else (contract: engineers and observers do not read each other's addresses).
pub fn can_read_email(viewer_role: Role, viewer_id: i32, user_id: i32) -> bool {
    can_list(viewer_role) || viewer_id == user_id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_for_users() {
        let table = [
            (Role::Admin, true, true),
            (Role::Manager, true, false),
            (Role::Engineer, false, false),
            (Role::Observer, false, false),
        ];
        for (role, list, manage) in table {
            assert_eq!(can_list(role), list, "{role:?} list");
            assert_eq!(can_manage(role), manage, "{role:?} manage");
        }
    }

    #[test]
    fn email_is_for_managers_admins_and_oneself() {
        let table = [
            (Role::Admin, true),
            (Role::Manager, true),
            (Role::Engineer, false),
            (Role::Observer, false),
        ];
        for (role, other) in table {
            assert_eq!(can_read_email(role, 1, 2), other, "{role:?} other");
            assert!(can_read_email(role, 1, 1), "{role:?} self");
        }
    }
}
