//! `defects` and `defect`.
use async_graphql::{Context, ID, Object};

use super::{
    inputs::DefectFilterInput,
    objects::{Defect, DefectConnection},
};
use crate::{
    domain::{
        defects::{filter, keys, service as defects, trash},
        pagination::PageArgs,
    },
    error::{GqlResultExt, found_or_null},
    graphql::{context::ContextExt, loaders, pagination::wants_total, scalars::id},
};

#[derive(Default)]
pub struct DefectQuery;

#[Object]
impl DefectQuery {
    /// Defects the viewer can see. Default order: newest first.
    #[graphql(complexity = "crate::graphql::pagination::cost(first) * child_complexity")]
    async fn defects(
        &self,
        ctx: &Context<'_>,
        filter: Option<DefectFilterInput>,
        order_by: Option<filter::DefectOrder>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<DefectConnection> {
        let viewer = ctx.viewer()?;
        let db = &ctx.state().db;
        let args = PageArgs::new(first, after.as_deref()).gql()?;
        let filter: filter::DefectFilter = filter.unwrap_or_default().into();
        let order = order_by.unwrap_or_default();
        let page = defects::list(db, viewer, &filter, order, &args)
            .await
            .gql()?;
        let rows: Vec<_> = page.items.iter().map(|(_, d)| d.clone()).collect();
        loaders::prime_defects(ctx, &rows).await?;
        let total = if wants_total(ctx) {
            defects::count(db, viewer, &filter).await.gql()?
        } else {
            0
        };
        Ok(DefectConnection::new(page.map(Defect), total))
    }

    /// A defect, or null when it does not exist or is not visible to the viewer.
    async fn defect(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Defect>> {
        let viewer = ctx.viewer()?;
        let Ok(id) = self::id(crate::error::Msg::DefectNotFound, &id) else {
            return Ok(None);
        };
        let Some(d) = found_or_null(defects::get(&ctx.state().db, viewer, id).await)? else {
            return Ok(None);
        };
        loaders::prime_defects(ctx, std::slice::from_ref(&d)).await?;
        Ok(Some(Defect(d)))
    }

    /// The defect with this key (`СК1-042`, any case); NOT_FOUND when there is none or
    /// the viewer cannot see it.
    async fn defect_by_key(
        &self,
        ctx: &Context<'_>,
        key: String,
    ) -> async_graphql::Result<Option<Defect>> {
        let viewer = ctx.viewer()?;
        let d = keys::find(&ctx.state().db, viewer, &key).await.gql()?;
        loaders::prime_defects(ctx, std::slice::from_ref(&d)).await?;
        Ok(Some(Defect(d)))
    }

    /// Admins and managers: soft-deleted defects, most recent first.
    #[graphql(complexity = "crate::graphql::pagination::cost(first) * child_complexity")]
    async fn deleted_defects(
        &self,
        ctx: &Context<'_>,
        project_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<DefectConnection> {
        let viewer = ctx.viewer()?;
        let args = PageArgs::new(first, after.as_deref()).gql()?;
        let project_id = project_id
            .as_ref()
            .map(|p| self::id(crate::error::Msg::ProjectNotFound, p))
            .transpose()?;
        let (page, total) = trash::list(&ctx.state().db, viewer, project_id, &args)
            .await
            .gql()?;
        let rows: Vec<_> = page.items.iter().map(|(_, d)| d.clone()).collect();
        loaders::prime_defects(ctx, &rows).await?;
        Ok(DefectConnection::new(page.map(Defect), total))
    }
}
