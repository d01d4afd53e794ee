//! Plans by id (a defect's pin) and by project (`Project.plans`), primed for a page.
use std::collections::{BTreeSet, HashMap};

use async_graphql::{Context, dataloader::Loader};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use super::{group, load_if, primed, selects};
use crate::{
    entities::{defects, plans, projects},
    error::AppError,
};

pub struct PlanByIdLoader(pub DatabaseConnection);
/// Oldest first.
pub struct PlansByProjectLoader(pub DatabaseConnection);

impl Loader<i32> for PlanByIdLoader {
    type Value = plans::Model;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = plans::Entity::find()
            .filter(plans::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|p| (p.id, p)).collect())
    }
}

impl Loader<i32> for PlansByProjectLoader {
    type Value = Vec<plans::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = plans::Entity::find()
            .filter(plans::Column::ProjectId.is_in(keys.iter().copied()))
            .order_by_asc(plans::Column::Id)
            .all(&self.0)
            .await?;
        Ok(group(keys, rows, |r| r.project_id))
    }
}

/// The pins' plans of a page of defects, in one query.
pub(super) async fn prime_for_defects(
    ctx: &Context<'_>,
    rows: &[defects::Model],
) -> async_graphql::Result<()> {
    let ids: BTreeSet<i32> = rows.iter().filter_map(|d| d.plan_id).collect();
    load_if::<PlanByIdLoader>(ctx, selects(ctx, primed::defect::LOCATION), &ids).await?;
    Ok(())
}

/// The plans of a page of projects, in one query.
pub(super) async fn prime_for_projects(
    ctx: &Context<'_>,
    rows: &[projects::Model],
) -> async_graphql::Result<()> {
    let ids: BTreeSet<i32> = rows.iter().map(|p| p.id).collect();
    load_if::<PlansByProjectLoader>(ctx, selects(ctx, primed::project::PLANS), &ids).await?;
    Ok(())
}
