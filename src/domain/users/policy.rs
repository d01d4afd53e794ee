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
}
