//! DataLoaders for children of objects that were already authorised. Registered per
//! request (with a per-request cache), so nothing is shared across viewers.
//!
//! A list resolver also *primes* the loaders for the page it returns ([`prime_defects`],
//! [`prime_projects`]): async-graphql's loader batches by a 1 ms timer, and a large page
//! resolved by a slow executor splits into several batches; priming makes one batch per
//! relation regardless of timing, so a page costs a constant number of statements.
use std::collections::{BTreeSet, HashMap};

use async_graphql::{
    Context,
    dataloader::{DataLoader, HashMapCache, Loader},
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{
    entities::{
        attachments, comments, defects, project_members, projects, stages, status_changes, users,
    },
    error::AppError,
};

pub struct UserByIdLoader(pub DatabaseConnection);
pub struct ProjectByIdLoader(pub DatabaseConnection);
pub struct StagesByProjectLoader(pub DatabaseConnection);
pub struct MembersByProjectLoader(pub DatabaseConnection);

impl Loader<i32> for UserByIdLoader {
    type Value = users::Model;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = users::Entity::find()
            .filter(users::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|u| (u.id, u)).collect())
    }
}

impl Loader<i32> for ProjectByIdLoader {
    type Value = projects::Model;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = projects::Entity::find()
            .filter(projects::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|p| (p.id, p)).collect())
    }
}

impl Loader<i32> for StagesByProjectLoader {
    type Value = Vec<stages::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = stages::Entity::find()
            .filter(stages::Column::ProjectId.is_in(keys.iter().copied()))
            .order_by_asc(stages::Column::Position)
            .order_by_asc(stages::Column::Id)
            .all(&self.0)
            .await?;
        let mut out: HashMap<i32, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for s in rows {
            out.entry(s.project_id).or_default().push(s);
        }
        Ok(out)
    }
}

impl Loader<i32> for MembersByProjectLoader {
    type Value = Vec<users::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = project_members::Entity::find()
            .filter(project_members::Column::ProjectId.is_in(keys.iter().copied()))
            .find_also_related(users::Entity)
            .order_by_asc(users::Column::Username)
            .all(&self.0)
            .await?;
        let mut out: HashMap<i32, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for (m, u) in rows {
            if let Some(u) = u {
                out.entry(m.project_id).or_default().push(u);
            }
        }
        Ok(out)
    }
}

/// Adds a fresh set of loaders to one request.
type Cached<L> = DataLoader<L, HashMapCache>;

pub fn register(
    request: async_graphql::Request,
    db: &DatabaseConnection,
) -> async_graphql::Request {
    fn loader<L: Loader<i32>>(l: L) -> Cached<L> {
        DataLoader::with_cache(l, tokio::spawn, HashMapCache::default())
    }
    request
        .data(loader(UserByIdLoader(db.clone())))
        .data(loader(ProjectByIdLoader(db.clone())))
        .data(loader(StagesByProjectLoader(db.clone())))
        .data(loader(MembersByProjectLoader(db.clone())))
        .data(loader(StageByIdLoader(db.clone())))
        .data(loader(AttachmentsByDefectLoader(db.clone())))
        .data(loader(CommentsByDefectLoader(db.clone())))
        .data(loader(HistoryByDefectLoader(db.clone())))
        .data(loader(CommentCountByDefectLoader(db.clone())))
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
    // A loader missing from the request is a programming error: it surfaces as an
    // INTERNAL_SERVER_ERROR through the safety net instead of a panic.
    ctx.data::<Cached<L>>()?
        .load_one(key)
        .await
        .map_err(|e| e.extend())
}

/// Loads many keys in one batch (and caches them for this request).
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
    ctx.data::<Cached<L>>()?
        .load_many(keys)
        .await
        .map_err(|e| e.extend())
}

/// Whether the connection's nodes (via `nodes` or `edges.node`) select `path`.
fn selects(ctx: &Context<'_>, path: &[&str]) -> bool {
    let la = ctx.look_ahead();
    let (mut a, mut b) = (la.field("nodes"), la.field("edges").field("node"));
    for p in path {
        a = a.field(p);
        b = b.field(p);
    }
    a.exists() || b.exists()
}

async fn prime_project_children(
    ctx: &Context<'_>,
    ids: &BTreeSet<i32>,
    prefix: &[&'static str],
) -> async_graphql::Result<()> {
    let with = |f: &'static str| [prefix, &[f]].concat();
    if selects(ctx, &with("members")) {
        load_many::<MembersByProjectLoader>(ctx, ids.clone()).await?;
    }
    if selects(ctx, &with("stages")) {
        load_many::<StagesByProjectLoader>(ctx, ids.clone()).await?;
    }
    Ok(())
}

/// One batch per relation for a page of projects.
pub async fn prime_projects(
    ctx: &Context<'_>,
    rows: &[projects::Model],
) -> async_graphql::Result<()> {
    let ids: BTreeSet<i32> = rows.iter().map(|p| p.id).collect();
    prime_project_children(ctx, &ids, &[]).await
}

/// One batch per relation for a page of defects, for the fields the query selects.
pub async fn prime_defects(
    ctx: &Context<'_>,
    rows: &[defects::Model],
) -> async_graphql::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let defect_ids: BTreeSet<i32> = rows.iter().map(|d| d.id).collect();
    let project_ids: BTreeSet<i32> = rows.iter().map(|d| d.project_id).collect();
    if selects(ctx, &["project"]) || selects(ctx, &["stage", "project"]) {
        load_many::<ProjectByIdLoader>(ctx, project_ids.clone()).await?;
    }
    prime_project_children(ctx, &project_ids, &["project"]).await?;
    if selects(ctx, &["stage"]) {
        load_many::<StageByIdLoader>(ctx, rows.iter().filter_map(|d| d.stage_id).collect()).await?;
    }
    let mut users: BTreeSet<i32> = BTreeSet::new();
    if selects(ctx, &["performer"]) {
        users.extend(rows.iter().filter_map(|d| d.performer_id));
    }
    if selects(ctx, &["author"]) {
        users.extend(rows.iter().map(|d| d.author_id));
    }
    if selects(ctx, &["comments"]) {
        let comments = load_many::<CommentsByDefectLoader>(ctx, defect_ids.clone()).await?;
        if selects(ctx, &["comments", "author"]) {
            users.extend(comments.values().flatten().map(|c| c.author_id));
        }
    }
    if selects(ctx, &["history"]) {
        let history = load_many::<HistoryByDefectLoader>(ctx, defect_ids.clone()).await?;
        if selects(ctx, &["history", "changedBy"]) {
            users.extend(history.values().flatten().map(|h| h.changed_by));
        }
    }
    if selects(ctx, &["attachments"]) {
        let files = load_many::<AttachmentsByDefectLoader>(ctx, defect_ids.clone()).await?;
        if selects(ctx, &["attachments", "uploadedBy"]) {
            users.extend(files.values().flatten().map(|a| a.uploaded_by));
        }
    }
    if selects(ctx, &["commentCount"]) {
        load_many::<CommentCountByDefectLoader>(ctx, defect_ids).await?;
    }
    load_many::<UserByIdLoader>(ctx, users).await?;
    Ok(())
}

pub struct StageByIdLoader(pub DatabaseConnection);
pub struct AttachmentsByDefectLoader(pub DatabaseConnection);

/// Oldest first.
impl Loader<i32> for AttachmentsByDefectLoader {
    type Value = Vec<attachments::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = attachments::Entity::find()
            .filter(attachments::Column::DefectId.is_in(keys.iter().copied()))
            .order_by_asc(attachments::Column::Id)
            .all(&self.0)
            .await?;
        let mut out: HashMap<i32, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for a in rows {
            out.entry(a.defect_id).or_default().push(a);
        }
        Ok(out)
    }
}
pub struct CommentsByDefectLoader(pub DatabaseConnection);
pub struct HistoryByDefectLoader(pub DatabaseConnection);
pub struct CommentCountByDefectLoader(pub DatabaseConnection);

impl Loader<i32> for StageByIdLoader {
    type Value = stages::Model;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = stages::Entity::find()
            .filter(stages::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|s| (s.id, s)).collect())
    }
}

/// Oldest first.
impl Loader<i32> for CommentsByDefectLoader {
    type Value = Vec<comments::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = comments::Entity::find()
            .filter(comments::Column::DefectId.is_in(keys.iter().copied()))
            .order_by_asc(comments::Column::Id)
            .all(&self.0)
            .await?;
        let mut out: HashMap<i32, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for c in rows {
            out.entry(c.defect_id).or_default().push(c);
        }
        Ok(out)
    }
}

/// Oldest first.
impl Loader<i32> for HistoryByDefectLoader {
    type Value = Vec<status_changes::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = status_changes::Entity::find()
            .filter(status_changes::Column::DefectId.is_in(keys.iter().copied()))
            .order_by_asc(status_changes::Column::Id)
            .all(&self.0)
            .await?;
        let mut out: HashMap<i32, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for h in rows {
            out.entry(h.defect_id).or_default().push(h);
        }
        Ok(out)
    }
}

impl Loader<i32> for CommentCountByDefectLoader {
    type Value = i64;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows: Vec<(i32, i64)> = comments::Entity::find()
            .select_only()
            .column(comments::Column::DefectId)
            .column_as(comments::Column::Id.count(), "n")
            .filter(comments::Column::DefectId.is_in(keys.iter().copied()))
            .group_by(comments::Column::DefectId)
            .into_tuple()
            .all(&self.0)
            .await?;
        let mut out: HashMap<i32, i64> = keys.iter().map(|k| (*k, 0)).collect();
        out.extend(rows);
        Ok(out)
    }
}
