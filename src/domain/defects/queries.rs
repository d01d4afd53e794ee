//! Visibility for defects: engineers see defects of their projects only, and nobody sees
//! a soft-deleted defect through the ordinary readers. Every reader of live defects (lists,
//! `defect(id)`, search, reports, the export, every mutation's load) starts from
//! [`visible_to`], so the deleted condition lives here once.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select};

use crate::{auth::Viewer, domain::projects::queries::visible_ids, entities::defects};

fn in_visible_projects(viewer: &Viewer) -> Select<defects::Entity> {
    let q = defects::Entity::find();
    match visible_ids(viewer) {
        Some(ids) => q.filter(defects::Column::ProjectId.in_subquery(ids)),
        None => q,
    }
}

/// Live (not deleted) defects the viewer can see.
pub fn visible_to(viewer: &Viewer) -> Select<defects::Entity> {
    in_visible_projects(viewer).filter(defects::Column::DeletedAt.is_null())
}

/// Soft-deleted defects in the viewer's projects (for `deletedDefects`, restore, purge).
pub fn deleted_visible_to(viewer: &Viewer) -> Select<defects::Entity> {
    in_visible_projects(viewer).filter(defects::Column::DeletedAt.is_not_null())
}
