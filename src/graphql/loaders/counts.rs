//! `Project.defectCounts`: counts per project over the defects the viewer can see.
//!
//! Unlike the other loaders, the value depends on the viewer, so this one is kept apart:
//! it is not in a live batch's shared set (`each`), and it is made on first use rather
//! than at registration, because a WebSocket operation registers its loaders before it
//! reads its viewer (`http/ws`). The request holds an empty [`ViewerLoaders`]; the first
//! resolver that asks fills it with the viewer of the operation, which stays the same for
//! the operation's lifetime.
use std::{
    collections::{BTreeSet, HashMap},
    sync::OnceLock,
};

use async_graphql::{
    Context, ErrorExtensions,
    dataloader::{DataLoader, Loader},
};
use sea_orm::DatabaseConnection;

use super::Caching;
use crate::{
    auth::Viewer,
    domain::reports::{queries::Counts, service as reports},
    error::AppError,
    graphql::context::ContextExt,
};

pub struct DefectCountsByProjectLoader {
    db: DatabaseConnection,
    viewer: Viewer,
}

impl Loader<i32> for DefectCountsByProjectLoader {
    type Value = Counts;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        reports::project_counts(&self.db, &self.viewer, keys).await
    }
}

/// The request's loaders whose values depend on its viewer, made when first asked.
pub struct ViewerLoaders {
    pub(super) db: DatabaseConnection,
    pub(super) cache: bool,
    counts: OnceLock<DataLoader<DefectCountsByProjectLoader, Caching>>,
    pub(super) watching: OnceLock<DataLoader<super::WatchingByDefectLoader, Caching>>,
}

impl ViewerLoaders {
    pub(super) fn new(db: &DatabaseConnection, cache: bool) -> Self {
        ViewerLoaders {
            db: db.clone(),
            cache,
            counts: OnceLock::new(),
            watching: OnceLock::new(),
        }
    }
}

impl ViewerLoaders {
    /// See [`super::forget`].
    pub(super) fn forget(&self) {
        if let Some(loader) = self.counts.get() {
            loader.clear::<i32>();
        }
        if let Some(loader) = self.watching.get() {
            loader.clear::<i32>();
        }
    }
}

fn counts_loader<'a>(
    ctx: &'a Context<'_>,
) -> async_graphql::Result<&'a DataLoader<DefectCountsByProjectLoader, Caching>> {
    let viewer = ctx.viewer()?;
    let slot = ctx.data::<ViewerLoaders>()?;
    Ok(slot.counts.get_or_init(|| {
        let loader = DefectCountsByProjectLoader {
            db: slot.db.clone(),
            viewer: viewer.clone(),
        };
        DataLoader::with_cache(loader, tokio::spawn, Caching(slot.cache))
    }))
}

/// The counts of one project (zeros for a project without visible defects).
pub async fn defect_counts(ctx: &Context<'_>, project_id: i32) -> async_graphql::Result<Counts> {
    let got = counts_loader(ctx)?
        .load_one(project_id)
        .await
        .map_err(|e| e.extend())?;
    Ok(got.unwrap_or_else(Counts::zero))
}

/// When `wanted`, loads the counts of a page's projects now, in one statement, for the
/// rest of the request (the priming of [`super::prime_projects`] and `prime_defects`).
pub(super) async fn prime_if(
    ctx: &Context<'_>,
    wanted: bool,
    project_ids: &BTreeSet<i32>,
) -> async_graphql::Result<()> {
    if !wanted || project_ids.is_empty() {
        return Ok(());
    }
    let loader = counts_loader(ctx)?;
    let keys: Vec<i32> = project_ids.iter().copied().collect();
    let values = loader.loader().load(&keys).await.map_err(|e| e.extend())?;
    loader.feed_many(values).await;
    Ok(())
}
