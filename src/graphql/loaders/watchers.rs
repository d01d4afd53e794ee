//! `Defect.watchers` (the same for every viewer: in the shared set, `each`) and
//! `Defect.watching` (the viewer's own: made on first use, like the counts of
//! [`super::counts`]). Both read `domain::defects::watchers`, one statement per batch,
//! and give every key an entry, so a primed page reads nothing more.
use std::collections::{BTreeSet, HashMap};

use async_graphql::{
    Context, ErrorExtensions,
    dataloader::{DataLoader, Loader},
};
use sea_orm::DatabaseConnection;

use super::{Caching, ViewerLoaders};
use crate::{
    auth::Viewer, domain::defects::watchers, entities::users, error::AppError,
    graphql::context::ContextExt,
};

pub struct WatchersByDefectLoader(pub DatabaseConnection);

impl Loader<i32> for WatchersByDefectLoader {
    type Value = Vec<users::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        watchers::of_defects(&self.0, keys).await
    }
}

/// Whether the viewer watches each defect.
pub struct WatchingByDefectLoader {
    pub(super) db: DatabaseConnection,
    pub(super) viewer: Viewer,
}

impl Loader<i32> for WatchingByDefectLoader {
    type Value = bool;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let watched = watchers::watched_by(&self.db, self.viewer.id, keys).await?;
        Ok(keys.iter().map(|k| (*k, watched.contains(k))).collect())
    }
}

fn watching_loader<'a>(
    ctx: &'a Context<'_>,
) -> async_graphql::Result<&'a DataLoader<WatchingByDefectLoader, Caching>> {
    let viewer = ctx.viewer()?;
    let slot = ctx.data::<ViewerLoaders>()?;
    Ok(slot.watching.get_or_init(|| {
        let loader = WatchingByDefectLoader {
            db: slot.db.clone(),
            viewer: viewer.clone(),
        };
        DataLoader::with_cache(loader, tokio::spawn, Caching(slot.cache))
    }))
}

/// Whether the viewer watches the defect.
pub async fn watching(ctx: &Context<'_>, defect_id: i32) -> async_graphql::Result<bool> {
    let got = watching_loader(ctx)?
        .load_one(defect_id)
        .await
        .map_err(|e| e.extend())?;
    Ok(got.unwrap_or(false))
}

/// When `wanted`, reads `watching` for a page's defects now, in one statement.
pub(super) async fn prime_if(
    ctx: &Context<'_>,
    wanted: bool,
    defect_ids: &BTreeSet<i32>,
) -> async_graphql::Result<()> {
    if !wanted || defect_ids.is_empty() {
        return Ok(());
    }
    let loader = watching_loader(ctx)?;
    let keys: Vec<i32> = defect_ids.iter().copied().collect();
    let values = loader.loader().load(&keys).await.map_err(|e| e.extend())?;
    loader.feed_many(values).await;
    Ok(())
}
