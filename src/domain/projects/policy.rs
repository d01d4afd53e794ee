//! Who may see and change projects, stages and memberships.
use crate::entities::enums::Role;

/// Whether the role sees every project (engineers see only their own).
pub fn sees_all_projects(role: Role) -> bool {
    role != Role::Engineer
}

/// Create/update/delete projects and stages, manage members.
pub fn can_manage(role: Role) -> bool {
    role.is_manager()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_for_projects() {
        let table = [
            (Role::Admin, true, true),
            (Role::Manager, true, true),
            (Role::Engineer, false, false),
            (Role::Observer, true, false),
        ];
        for (role, all, manage) in table {
            assert_eq!(sees_all_projects(role), all, "{role:?} sees all");
            assert_eq!(can_manage(role), manage, "{role:?} manages");
        }
    }
}
