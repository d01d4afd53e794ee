//! Visibility for defects: engineers see defects of their projects only.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select};

use crate::{auth::Viewer, domain::projects::queries::visible_ids, entities::defects};

pub fn visible_to(viewer: &Viewer) -> Select<defects::Entity> {
    let q = defects::Entity::find();
    match visible_ids(viewer) {
        Some(ids) => q.filter(defects::Column::ProjectId.in_subquery(ids)),
        None => q,
    }
}
