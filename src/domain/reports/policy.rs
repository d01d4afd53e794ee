//! Who may read reports and export defects.
use crate::entities::enums::Role;

/// Reports are for those who oversee the work; engineers get their own lists instead.
pub fn can_view(role: Role) -> bool {
    role != Role::Engineer
}

/// The CSV export holds every field of every defect: managers and admins only.
pub fn can_export(role: Role) -> bool {
    role.is_manager()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_for_reports_and_export() {
        let table = [
            (Role::Admin, true, true),
            (Role::Manager, true, true),
            (Role::Engineer, false, false),
            (Role::Observer, true, false),
        ];
        for (role, view, export) in table {
            assert_eq!(can_view(role), view, "{role:?} views reports");
            assert_eq!(can_export(role), export, "{role:?} exports");
        }
    }
}
