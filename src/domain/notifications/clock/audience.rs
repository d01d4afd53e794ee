//! Who receives a step of the clock, read for a whole batch at once: the performer,
//! the watchers (`watching = true`), the project's managers (members with role
//! `MANAGER`) — of those, only active users who can see the defect now, by the rule of
//! `projects::policy` (a role that sees every project, or a member of the defect's).
//! The defects are already known to be live.
use std::collections::{BTreeSet, HashMap, HashSet};

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationTrait,
};

use crate::{
    domain::projects::policy::sees_all_projects,
    entities::{defect_watchers, enums::Role, project_members, users},
    error::AppResult,
};

#[derive(Debug, Default)]
pub(super) struct Audience {
    /// Watchers per defect.
    pub watchers: HashMap<i32, Vec<i32>>,
    /// Members with role MANAGER per project.
    pub managers: HashMap<i32, Vec<i32>>,
    /// Every candidate that is active, with its role.
    active: HashMap<i32, Role>,
    /// (user, project) memberships of the candidates in the batch's projects.
    members: HashSet<(i32, i32)>,
}

impl Audience {
    /// Reads the watchers of `watched` defects, the managers of `managed` projects and,
    /// for them and `direct` users (performers), the facts the visibility rule needs in
    /// `projects`: at most four statements.
    pub async fn read(
        db: &impl ConnectionTrait,
        watched: &BTreeSet<i32>,
        managed: &BTreeSet<i32>,
        direct: &BTreeSet<i32>,
        projects: &BTreeSet<i32>,
    ) -> AppResult<Self> {
        let mut out = Audience::default();
        if !watched.is_empty() {
            let rows: Vec<(i32, i32)> = defect_watchers::Entity::find()
                .select_only()
                .column(defect_watchers::Column::DefectId)
                .column(defect_watchers::Column::UserId)
                .filter(defect_watchers::Column::DefectId.is_in(watched.iter().copied()))
                .filter(defect_watchers::Column::Watching.eq(true))
                .into_tuple()
                .all(db)
                .await?;
            for (defect, user) in rows {
                out.watchers.entry(defect).or_default().push(user);
            }
        }
        if !managed.is_empty() {
            let rows: Vec<(i32, i32)> = project_members::Entity::find()
                .select_only()
                .column(project_members::Column::ProjectId)
                .column(project_members::Column::UserId)
                .join(JoinType::InnerJoin, project_members::Relation::User.def())
                .filter(project_members::Column::ProjectId.is_in(managed.iter().copied()))
                .filter(users::Column::Role.eq(Role::Manager))
                .into_tuple()
                .all(db)
                .await?;
            for (project, user) in rows {
                out.managers.entry(project).or_default().push(user);
            }
        }
        let candidates: BTreeSet<i32> = direct
            .iter()
            .chain(out.watchers.values().flatten())
            .chain(out.managers.values().flatten())
            .copied()
            .collect();
        if candidates.is_empty() {
            return Ok(out);
        }
        out.active = users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .column(users::Column::Role)
            .filter(users::Column::Id.is_in(candidates))
            .filter(users::Column::IsActive.eq(true))
            .into_tuple::<(i32, Role)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        let limited: BTreeSet<i32> = out
            .active
            .iter()
            .filter(|&(_, &role)| !sees_all_projects(role))
            .map(|(&id, _)| id)
            .collect();
        if !limited.is_empty() && !projects.is_empty() {
            out.members = project_members::Entity::find()
                .select_only()
                .column(project_members::Column::UserId)
                .column(project_members::Column::ProjectId)
                .filter(project_members::Column::UserId.is_in(limited))
                .filter(project_members::Column::ProjectId.is_in(projects.iter().copied()))
                .into_tuple::<(i32, i32)>()
                .all(db)
                .await?
                .into_iter()
                .collect();
        }
        Ok(out)
    }

    /// Whether `user` is active and sees the (live) defects of `project`.
    pub fn reaches(&self, user: i32, project: i32) -> bool {
        self.active
            .get(&user)
            .is_some_and(|&role| sees_all_projects(role) || self.members.contains(&(user, project)))
    }
}
