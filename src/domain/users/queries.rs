//! Query builders for users.
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, Select};

use crate::{
    domain::{pagination::Cursor, search},
    entities::{enums::Role, users},
    error::AppResult,
};

#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub search: Option<String>,
}

pub fn filtered(filter: &UserFilter) -> Select<users::Entity> {
    let mut q = users::Entity::find();
    if let Some(role) = filter.role {
        q = q.filter(users::Column::Role.eq(role));
    }
    if let Some(expr) = filter
        .search
        .as_deref()
        .and_then(|s| search::matches(users::Column::SearchText, s))
    {
        q = q.filter(expr);
    }
    q
}

/// Ordered by username, then id; `after` continues after the cursor's row.
pub fn page(filter: &UserFilter, after: Option<&Cursor>) -> AppResult<Select<users::Entity>> {
    let mut q = filtered(filter);
    if let Some(c) = after {
        let (name, id) = (c.str(0)?, c.id()?);
        q = q.filter(
            Condition::any()
                .add(users::Column::Username.gt(name.clone()))
                .add(
                    Condition::all()
                        .add(users::Column::Username.eq(name))
                        .add(users::Column::Id.gt(id)),
                ),
        );
    }
    Ok(q.order_by_asc(users::Column::Username)
        .order_by_asc(users::Column::Id))
}

pub fn cursor(u: &users::Model) -> Cursor {
    Cursor(vec![u.username.clone().into(), u.id.into()])
}
