//! The loaders: one per relation, each over one table, and how each reads its rows.
#[allow(clippy::wildcard_imports)]
use super::*;

// ---- The loaders: one per relation, each over one table.

pub struct UserByIdLoader(pub DatabaseConnection);
pub struct ProjectByIdLoader(pub DatabaseConnection);
pub struct StagesByProjectLoader(pub DatabaseConnection);
pub struct MembersByProjectLoader(pub DatabaseConnection);
pub struct StageByIdLoader(pub DatabaseConnection);
pub struct AttachmentsByDefectLoader(pub DatabaseConnection);
pub struct CommentsByDefectLoader(pub DatabaseConnection);
pub struct HistoryByDefectLoader(pub DatabaseConnection);
pub struct CommentCountByDefectLoader(pub DatabaseConnection);
/// Live defects by id, WITHOUT a visibility check: only for ids that came from rows the
/// viewer was already shown through `visible_to` (a journal page lists only events of
/// visible defects), never for an id from the client.
pub struct LiveDefectByIdLoader(pub DatabaseConnection);
/// Defects by id, live or soft-deleted, WITHOUT a visibility check: only for the defect of
/// a comment or attachment the viewer was shown through its defect; the resolver decides
/// whether a deleted one may be shown (`policy::shows_parent`).
pub struct DefectByIdLoader(pub DatabaseConnection);

// ---- How each loader reads its rows.

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
        Ok(group(keys, rows, |r| r.project_id))
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
        // Joined rows: the user, grouped by the membership's project.
        let mut out: HashMap<i32, Self::Value> = group(keys, [], |_: &users::Model| 0);
        for (m, u) in rows {
            if let Some(u) = u {
                out.entry(m.project_id).or_default().push(u);
            }
        }
        Ok(out)
    }
}

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
        Ok(group(keys, rows, |r| r.defect_id))
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
        Ok(group(keys, rows, |r| r.defect_id))
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
        Ok(group(keys, rows, |r| r.defect_id))
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

impl Loader<i32> for LiveDefectByIdLoader {
    type Value = defects::Model;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = defects::Entity::find()
            .filter(defects::Column::Id.is_in(keys.iter().copied()))
            .filter(defects::Column::DeletedAt.is_null())
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|d| (d.id, d)).collect())
    }
}

impl Loader<i32> for DefectByIdLoader {
    type Value = defects::Model;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = defects::Entity::find()
            .filter(defects::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|d| (d.id, d)).collect())
    }
}

/// Rows by their parent key, in the order given; every asked key present (an empty list
/// for a parent without children).
pub(super) fn group<R>(
    keys: &[i32],
    rows: impl IntoIterator<Item = R>,
    key: impl Fn(&R) -> i32,
) -> HashMap<i32, Vec<R>> {
    let mut out: HashMap<i32, Vec<R>> = keys.iter().map(|k| (*k, Vec::new())).collect();
    for r in rows {
        out.entry(key(&r)).or_default().push(r);
    }
    out
}
