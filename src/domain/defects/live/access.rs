//! What live subscribers may see of a batch, read once for all of them (`Access`): the
//! journal's `Hub` and the notification reader (`crate::inbox_live`) use it, and the
//! notification consumer reads the same facts for its candidate recipients.
use std::collections::{HashMap, HashSet};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};

use crate::{
    domain::projects::policy::sees_all_projects,
    entities::{
        defect_events, defects,
        enums::{DefectEventKind, Role},
        project_members, refresh_tokens, users,
    },
    error::AppResult,
};

/// Ids per `IN (…)` list when reading the subscribers' rights (well under the
/// parameter limits of both backends).
const CHUNK: usize = 500;

/// Users per membership query of [`access_of_users`] (ids only: 2 × this many
/// parameters with the projects, still within both backends' limits).
const USERS_CHUNK: usize = 5000;

/// Whom a live subscription delivers to: its access token's user and session, or its
/// API token (`session` is then [`API_TOKEN`] and the token's id).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Subscriber {
    pub user_id: i32,
    pub session: String,
}

/// What marks an API token's subscriber; a session's id (base64url) never holds a `:`.
const API_TOKEN: &str = "api-token:";

impl Subscriber {
    pub fn api_token(user_id: i32, token_id: i32) -> Self {
        Subscriber {
            user_id,
            session: format!("{API_TOKEN}{token_id}"),
        }
    }

    fn token_id(&self) -> Option<i32> {
        self.session.strip_prefix(API_TOKEN)?.parse().ok()
    }
}

/// What the subscribers may see of one batch of events, read for all of them at once:
/// the same rule as `activity::visible` (a request's viewer check, then
/// `queries::visible_to`), split into its three facts so that it costs three queries
/// per batch however many subscribers there are.
#[derive(Debug, Default)]
pub struct Access {
    /// Every subscriber checked: its role when its user is active and its session live
    /// (the check of `auth::viewer::from_token`), `None` when not.
    viewers: HashMap<Subscriber, Option<Role>>,
    /// (user, project) memberships of the checked users in the batch's projects.
    members: HashSet<(i32, i32)>,
    /// The batch's defects (not purged): their project, and whether they are live (not
    /// deleted).
    defects: HashMap<i32, (i32, bool)>,
}

/// A subscriber's standing for one batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Standing {
    /// Active, with a live session, in this role.
    Viewer(Role),
    /// Deactivated, or its session revoked: the subscription ends.
    Refused,
    /// Joined after the batch's rights were read: it reads the batch for itself.
    Unchecked,
}

impl Access {
    pub fn standing(&self, who: &Subscriber) -> Standing {
        match self.viewers.get(who) {
            Some(Some(role)) => Standing::Viewer(*role),
            Some(None) => Standing::Refused,
            None => Standing::Unchecked,
        }
    }

    /// Whether a checked subscriber (`user_id` in `role`) is delivered the event now: the
    /// role sees every project or the user is a member of the defect's project, and the
    /// defect is live (`queries::visible_to`) — or the event is the DELETED of a deleted
    /// one (see [`delivered`]).
    pub fn sees(&self, user_id: i32, role: Role, event: &defect_events::Model) -> bool {
        self.defects
            .get(&event.defect_id)
            .is_some_and(|&(project, live)| {
                (live || event.kind == DefectEventKind::Deleted)
                    && (sees_all_projects(role) || self.members.contains(&(user_id, project)))
            })
    }

    /// Whether a checked subscriber (`user_id` in `role`) may see the defect now, as
    /// `queries::visible_to` decides it: live, and in a project the role sees or the user
    /// is a member of.
    pub fn sees_defect(&self, user_id: i32, role: Role, defect_id: i32) -> bool {
        self.defects
            .get(&defect_id)
            .is_some_and(|&(project, live)| {
                live && (sees_all_projects(role) || self.members.contains(&(user_id, project)))
            })
    }
}

/// Reads what `subscribers` may see of `events`: one query for the defects, and one
/// per [`CHUNK`] subscribers for their users and sessions and for their memberships.
pub async fn access(
    db: &DatabaseConnection,
    subscribers: &[Subscriber],
    events: &[defect_events::Model],
) -> AppResult<Access> {
    access_to_defects(
        db,
        subscribers,
        events.iter().map(|e| e.defect_id).collect(),
    )
    .await
}

/// What `subscribers` may see of the defects `defect_ids` (the notification reader:
/// rows about defects, not events), with the queries of [`access`]; read it with
/// [`Access::sees_defect`].
pub async fn access_to_defects(
    db: &DatabaseConnection,
    subscribers: &[Subscriber],
    defect_ids: HashSet<i32>,
) -> AppResult<Access> {
    let mut out = Access::default();
    if subscribers.is_empty() || defect_ids.is_empty() {
        return Ok(out);
    }
    out.defects = batch_defects(db, defect_ids).await?;
    let projects: HashSet<i32> = out.defects.values().map(|&(p, _)| p).collect();
    for chunk in subscribers.chunks(CHUNK) {
        let sessions: HashSet<&str> = chunk.iter().map(|s| s.session.as_str()).collect();
        // A session is live while its refresh family has an unrevoked row of its user
        // (as `auth::viewer::load_active` checks it).
        let mut live: HashMap<(i32, String), Role> = refresh_tokens::Entity::find()
            .select_only()
            .column(refresh_tokens::Column::UserId)
            .column(refresh_tokens::Column::FamilyId)
            .column(users::Column::Role)
            .join(
                sea_orm::JoinType::InnerJoin,
                refresh_tokens::Entity::belongs_to(users::Entity)
                    .from(refresh_tokens::Column::UserId)
                    .to(users::Column::Id)
                    .into(),
            )
            .filter(refresh_tokens::Column::FamilyId.is_in(sessions))
            .filter(refresh_tokens::Column::RevokedAt.is_null())
            .filter(users::Column::IsActive.eq(true))
            .distinct()
            .into_tuple::<(i32, String, Role)>()
            .all(db)
            .await?
            .into_iter()
            .map(|(user, family, role)| ((user, family), role))
            .collect();
        let tokens: HashSet<i32> = chunk.iter().filter_map(Subscriber::token_id).collect();
        if !tokens.is_empty() {
            live.extend(
                crate::auth::api_tokens::live_among(db, tokens)
                    .await?
                    .into_iter()
                    .map(|(user, id, role)| {
                        let who = Subscriber::api_token(user, id);
                        ((who.user_id, who.session), role)
                    }),
            );
        }
        let mut engineers = HashSet::new();
        for s in chunk {
            let role = live.get(&(s.user_id, s.session.clone())).copied();
            if role.is_some_and(|r| !sees_all_projects(r)) {
                engineers.insert(s.user_id);
            }
            out.viewers.insert(s.clone(), role);
        }
        out.members
            .extend(memberships(db, engineers, &projects).await?);
    }
    Ok(out)
}

/// What active users known by id and role (no session: the engine's notification
/// consumer, which checked the active flag itself) may see of `events`, for
/// [`Access::sees`]: the same facts as [`access`], one query for the defects and one per
/// [`USERS_CHUNK`] engineers for their memberships. Its `standing` knows no one.
pub async fn access_of_users(
    db: &impl ConnectionTrait,
    users: &[(i32, Role)],
    events: &[defect_events::Model],
) -> AppResult<Access> {
    let mut out = Access::default();
    if users.is_empty() || events.is_empty() {
        return Ok(out);
    }
    out.defects = batch_defects(db, events.iter().map(|e| e.defect_id).collect()).await?;
    let projects: HashSet<i32> = out.defects.values().map(|&(p, _)| p).collect();
    for chunk in users.chunks(USERS_CHUNK) {
        let engineers: HashSet<i32> = chunk
            .iter()
            .filter(|&&(_, role)| !sees_all_projects(role))
            .map(|&(id, _)| id)
            .collect();
        out.members
            .extend(memberships(db, engineers, &projects).await?);
    }
    Ok(out)
}

/// The batch's defects (not purged): their project, and whether they are live.
async fn batch_defects(
    db: &impl ConnectionTrait,
    defect_ids: HashSet<i32>,
) -> AppResult<HashMap<i32, (i32, bool)>> {
    Ok(defects::Entity::find()
        .select_only()
        .column(defects::Column::Id)
        .column(defects::Column::ProjectId)
        .column(defects::Column::DeletedAt)
        .filter(defects::Column::Id.is_in(defect_ids))
        .into_tuple::<(i32, i32, Option<chrono::DateTime<chrono::Utc>>)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, project, deleted_at)| (id, (project, deleted_at.is_none())))
        .collect())
}

/// (user, project) memberships of `engineers` in `projects` (no query when either is
/// empty).
async fn memberships(
    db: &impl ConnectionTrait,
    engineers: HashSet<i32>,
    projects: &HashSet<i32>,
) -> AppResult<Vec<(i32, i32)>> {
    if engineers.is_empty() || projects.is_empty() {
        return Ok(Vec::new());
    }
    Ok(project_members::Entity::find()
        .select_only()
        .column(project_members::Column::UserId)
        .column(project_members::Column::ProjectId)
        .filter(project_members::Column::UserId.is_in(engineers))
        .filter(project_members::Column::ProjectId.is_in(projects.iter().copied()))
        .into_tuple::<(i32, i32)>()
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(defect_id: i32, kind: DefectEventKind) -> defect_events::Model {
        defect_events::Model {
            id: 1,
            defect_id,
            project_id: 7,
            actor_id: 1,
            kind,
            at: chrono::Utc::now(),
            changes: "[]".into(),
            comment_id: None,
            status_change_id: None,
            attachment_id: None,
            attachment: None,
        }
    }

    #[test]
    fn a_deleted_defect_is_delivered_its_deleted_event_only_and_in_visible_projects_only() {
        // Defect 1 is live, 2 deleted, both in project 7; 3 was purged (absent). User 10
        // is a member of project 7, user 11 of none.
        let access = Access {
            viewers: HashMap::new(),
            members: HashSet::from([(10, 7)]),
            defects: HashMap::from([(1, (7, true)), (2, (7, false))]),
        };
        use DefectEventKind::{Commented, Deleted, Restored};
        for (user, role, defect, kind, delivered) in [
            (10, Role::Engineer, 1, Commented, true),
            (11, Role::Engineer, 1, Commented, false),
            (11, Role::Observer, 1, Commented, true),
            (10, Role::Engineer, 2, Deleted, true),
            (11, Role::Engineer, 2, Deleted, false),
            (11, Role::Manager, 2, Deleted, true),
            // Anything else of a deleted defect (written before the delete, read after).
            (10, Role::Engineer, 2, Commented, false),
            (11, Role::Admin, 2, Commented, false),
            (11, Role::Admin, 2, Restored, false),
            (11, Role::Admin, 3, Deleted, false),
        ] {
            assert_eq!(
                access.sees(user, role, &event(defect, kind)),
                delivered,
                "{user} {role:?} {defect} {kind:?}"
            );
        }
    }
}
