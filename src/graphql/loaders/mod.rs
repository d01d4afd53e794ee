//! DataLoaders for children of objects that were already authorised. Registered per
//! request (with a per-request cache), so nothing is shared across viewers.
//!
//! A list resolver also *primes* the loaders for the page it returns ([`prime_defects`],
//! [`prime_projects`]): async-graphql's loader batches by a 1 ms timer, and a large page
//! resolved by a slow executor splits into several batches; priming makes one batch per
//! relation regardless of timing, so a page costs a constant number of statements.
mod counts;
mod notifications;
mod plans;
mod primed;
mod shared;
mod tables;
mod watchers;

pub use counts::{DefectCountsByProjectLoader, ViewerLoaders, defect_counts};
pub use notifications::{EventByIdLoader, SettingsByUserLoader, prime_notifications};
pub use plans::{PlanByIdLoader, PlansByProjectLoader};
pub use shared::{BatchLoaders, BatchSlot};
pub use tables::*;
pub use watchers::{WatchersByDefectLoader, WatchingByDefectLoader, watching};

use std::collections::{BTreeSet, HashMap};

use async_graphql::{
    Context,
    dataloader::{CacheFactory, CacheStorage, DataLoader, HashMapCache, Loader, NoCache},
    extensions::ExtensionContext,
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{
    entities::{
        attachments, comments, defects, project_members, projects, stages, status_changes, users,
    },
    error::AppError,
};
use primed::defect;

// ---- Registration: a fresh set per request, and reading through it.

type Cached<L> = DataLoader<L, Caching>;

/// A request's loaders keep what they loaded for the request; a subscription's do not
/// (it lives for hours, and each event must show the rows as they are when it is sent).
pub struct Caching(bool);

impl CacheFactory for Caching {
    fn create<K, V>(&self) -> Box<dyn CacheStorage<Key = K, Value = V>>
    where
        K: Send + Sync + Clone + Eq + std::hash::Hash + 'static,
        V: Send + Sync + Clone + 'static,
    {
        if self.0 {
            HashMapCache::default().create()
        } else {
            NoCache.create()
        }
    }
}

/// Adds a fresh set of loaders to one request.
pub fn register(
    request: async_graphql::Request,
    db: &DatabaseConnection,
) -> async_graphql::Request {
    register_with(request, db, true)
}

/// Loaders for a subscription: batching without a cache, and the slot through which
/// the events it takes from a live batch use that batch's shared loaders instead.
pub fn register_uncached(
    request: async_graphql::Request,
    db: &DatabaseConnection,
) -> async_graphql::Request {
    register_with(request, db, false).data(BatchSlot::default())
}

fn register_with(
    request: async_graphql::Request,
    db: &DatabaseConnection,
    cache: bool,
) -> async_graphql::Request {
    struct Registering(async_graphql::Request, bool);
    impl Add for Registering {
        fn add<L: Loader<i32, Error = AppError>>(self, loader: L) -> Self {
            let loader: Cached<L> = DataLoader::with_cache(loader, tokio::spawn, Caching(self.1));
            Registering(self.0.data(loader), self.1)
        }
    }
    each(db, Registering(request, cache))
        .0
        .data(ViewerLoaders::new(db, cache))
}

/// Forgets what this request's loaders have loaded so far. Called by the commit mark
/// (`graphql::commit`) as every top-level mutation field starts, so that each mutation's
/// result shows the rows as they are after its write even when an earlier field of the
/// same document loaded them (a client's cache takes the result as the truth).
pub fn forget(ctx: &ExtensionContext<'_>) {
    struct Forgetting<'a, 'c>(&'a ExtensionContext<'c>);
    impl Add for Forgetting<'_, '_> {
        fn add<L: Loader<i32, Error = AppError>>(self, _: L) -> Self {
            if let Some(loader) = self.0.data_opt::<Cached<L>>() {
                loader.clear::<i32>();
            }
            self
        }
    }
    let Some(state) = ctx.data_opt::<crate::state::AppState>() else {
        return;
    };
    each(&state.db, Forgetting(ctx));
    if let Some(viewer) = ctx.data_opt::<ViewerLoaders>() {
        viewer.forget();
    }
}

/// Where a set of loaders goes (a request's data, a batch's shared set).
trait Add: Sized {
    fn add<L: Loader<i32, Error = AppError>>(self, loader: L) -> Self;
}

/// Every loader, once: what a request registers and a batch shares.
fn each<T: Add>(db: &DatabaseConnection, to: T) -> T {
    to.add(UserByIdLoader(db.clone()))
        .add(ProjectByIdLoader(db.clone()))
        .add(StagesByProjectLoader(db.clone()))
        .add(MembersByProjectLoader(db.clone()))
        .add(StageByIdLoader(db.clone()))
        .add(AttachmentsByDefectLoader(db.clone()))
        .add(CommentsByDefectLoader(db.clone()))
        .add(HistoryByDefectLoader(db.clone()))
        .add(CommentCountByDefectLoader(db.clone()))
        .add(LiveDefectByIdLoader(db.clone()))
        .add(DefectByIdLoader(db.clone()))
        .add(PlanByIdLoader(db.clone()))
        .add(PlansByProjectLoader(db.clone()))
        .add(WatchersByDefectLoader(db.clone()))
        .add(EventByIdLoader(db.clone()))
        .add(SettingsByUserLoader(db.clone()))
}

/// Loads one value through the request's loader `L`.
pub async fn load_one<L>(
    ctx: &async_graphql::Context<'_>,
    key: i32,
) -> async_graphql::Result<Option<L::Value>>
where
    L: Loader<i32, Error = AppError>,
{
    use async_graphql::ErrorExtensions;
    // Below an event of a live batch: the batch's loaders, shared by its subscriptions.
    if let Some(shared) = ctx.data_opt::<BatchSlot>().and_then(BatchSlot::get)
        && let Some(got) = shared.load_one::<L>(key).await
    {
        return got.map_err(|e| e.extend());
    }
    // A loader missing from the request is a programming error: it surfaces as an
    // INTERNAL_SERVER_ERROR through the safety net instead of a panic.
    ctx.data::<Cached<L>>()?
        .load_one(key)
        .await
        .map_err(|e| e.extend())
}

// ---- Priming: one batch per relation for a page, whatever the executor's timing.

/// Loads many keys now — one query, without the batching delay — and caches them for
/// the rest of this request.
async fn load_many<L>(
    ctx: &Context<'_>,
    keys: BTreeSet<i32>,
) -> async_graphql::Result<HashMap<i32, L::Value>>
where
    L: Loader<i32, Error = AppError>,
{
    use async_graphql::ErrorExtensions;
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let loader = ctx.data::<Cached<L>>()?;
    let keys: Vec<i32> = keys.into_iter().collect();
    let values = loader.loader().load(&keys).await.map_err(|e| e.extend())?;
    loader.feed_many(values.clone()).await;
    Ok(values)
}

/// `load_many` when `wanted`, else nothing.
async fn load_if<L>(
    ctx: &Context<'_>,
    wanted: bool,
    keys: &BTreeSet<i32>,
) -> async_graphql::Result<HashMap<i32, L::Value>>
where
    L: Loader<i32, Error = AppError>,
{
    if wanted {
        load_many::<L>(ctx, keys.clone()).await
    } else {
        Ok(HashMap::new())
    }
}

/// Whether the selection asks for `path` below the current field: on a connection's
/// nodes (via `nodes` or `edges.node`), or directly on a single object.
fn selects(ctx: &Context<'_>, path: &[&str]) -> bool {
    let la = ctx.look_ahead();
    let (mut a, mut b, mut c) = (la.field("nodes"), la.field("edges").field("node"), la);
    for p in path {
        a = a.field(p);
        b = b.field(p);
        c = c.field(p);
    }
    a.exists() || b.exists() || c.exists()
}

/// One query per relation for a page of projects, run concurrently.
pub async fn prime_projects(
    ctx: &Context<'_>,
    rows: &[projects::Model],
) -> async_graphql::Result<()> {
    let ids: BTreeSet<i32> = rows.iter().map(|p| p.id).collect();
    tokio::try_join!(
        load_if::<MembersByProjectLoader>(ctx, selects(ctx, primed::project::MEMBERS), &ids),
        load_if::<StagesByProjectLoader>(ctx, selects(ctx, primed::project::STAGES), &ids),
        plans::prime_for_projects(ctx, rows),
        counts::prime_if(ctx, selects(ctx, primed::project::DEFECT_COUNTS), &ids),
    )?;
    Ok(())
}

/// One query per relation for a page of defects (or one defect), for the fields the
/// query selects: the relations known from the rows at once, concurrently, then the
/// users they name.
pub async fn prime_defects(
    ctx: &Context<'_>,
    rows: &[defects::Model],
) -> async_graphql::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: BTreeSet<i32> = rows.iter().map(|d| d.id).collect();
    let project_ids: BTreeSet<i32> = rows.iter().map(|d| d.project_id).collect();
    let stage_ids: BTreeSet<i32> = rows.iter().filter_map(|d| d.stage_id).collect();
    let (_, _, _, _, comments, history, files, _, _, _, _) = tokio::try_join!(
        load_if::<ProjectByIdLoader>(
            ctx,
            selects(ctx, defect::PROJECT)
                || selects(ctx, defect::STAGE_PROJECT)
                || selects(ctx, defect::KEY)
                || selects(ctx, defect::IS_OVERDUE),
            &project_ids
        ),
        load_if::<MembersByProjectLoader>(ctx, selects(ctx, defect::PROJECT_MEMBERS), &project_ids),
        load_if::<StagesByProjectLoader>(ctx, selects(ctx, defect::PROJECT_STAGES), &project_ids),
        load_if::<StageByIdLoader>(ctx, selects(ctx, defect::STAGE), &stage_ids),
        load_if::<CommentsByDefectLoader>(ctx, selects(ctx, defect::COMMENTS), &ids),
        load_if::<HistoryByDefectLoader>(ctx, selects(ctx, defect::HISTORY), &ids),
        load_if::<AttachmentsByDefectLoader>(ctx, selects(ctx, defect::ATTACHMENTS), &ids),
        load_if::<CommentCountByDefectLoader>(ctx, selects(ctx, defect::COMMENT_COUNT), &ids),
        counts::prime_if(
            ctx,
            selects(ctx, defect::PROJECT_DEFECT_COUNTS),
            &project_ids
        ),
        load_if::<WatchersByDefectLoader>(ctx, selects(ctx, defect::WATCHERS), &ids),
        watchers::prime_if(ctx, selects(ctx, defect::WATCHING), &ids),
    )?;
    // A comment's or attachment's `defect` is a row of this page: given, not read.
    if selects(ctx, defect::COMMENTS_DEFECT) || selects(ctx, defect::ATTACHMENTS_DEFECT) {
        let loader = ctx.data::<Cached<DefectByIdLoader>>()?;
        loader
            .feed_many(rows.iter().map(|d| (d.id, d.clone())))
            .await;
    }
    let mut users: BTreeSet<i32> = BTreeSet::new();
    if selects(ctx, defect::PERFORMER) {
        users.extend(rows.iter().filter_map(|d| d.performer_id));
    }
    if selects(ctx, defect::AUTHOR) {
        users.extend(rows.iter().map(|d| d.author_id));
    }
    if selects(ctx, defect::COMMENTS_AUTHOR) {
        users.extend(comments.values().flatten().map(|c| c.author_id));
    }
    if selects(ctx, defect::HISTORY_CHANGED_BY) {
        users.extend(history.values().flatten().map(|h| h.changed_by));
    }
    if selects(ctx, defect::ATTACHMENTS_UPLOADED_BY) {
        users.extend(files.values().flatten().map(|a| a.uploaded_by));
    }
    tokio::try_join!(
        load_many::<UserByIdLoader>(ctx, users),
        plans::prime_for_defects(ctx, rows),
    )?;
    Ok(())
}
