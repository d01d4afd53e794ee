//! DataLoaders for children of objects that were already authorised. Registered per
//! request, so nothing is cached across viewers.
use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{
    entities::{comments, project_members, projects, stages, status_changes, users},
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
pub fn register(
    request: async_graphql::Request,
    db: &DatabaseConnection,
) -> async_graphql::Request {
    request
        .data(DataLoader::new(UserByIdLoader(db.clone()), tokio::spawn))
        .data(DataLoader::new(ProjectByIdLoader(db.clone()), tokio::spawn))
        .data(DataLoader::new(
            StagesByProjectLoader(db.clone()),
            tokio::spawn,
        ))
        .data(DataLoader::new(
            MembersByProjectLoader(db.clone()),
            tokio::spawn,
        ))
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
    ctx.data_unchecked::<DataLoader<L>>()
        .load_one(key)
        .await
        .map_err(|e| e.extend())
}

pub struct StageByIdLoader(pub DatabaseConnection);
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
