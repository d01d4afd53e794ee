//! Notifications derived from the journal: the engine's consumer `notifications`
//! (NOTIFY.md, "Notifications"). For each committed event it finds who is concerned and
//! how (`policy.rs`: the table and the precedence), keeps those who are active and can
//! see the defect now (`defects::live::Access`, the rule of `queries::visible_to`: a
//! deleted defect notifies no one), and writes them through `store::insert` (muting,
//! dedupe by `e:<event id>`, e-mail) — in the pass's transaction, which also advances the
//! consumer's position: each event's notifications are written exactly once.
//!
//! A batch costs a constant number of statements whatever its size and audience: the
//! defects' performers, the watchers, the managers, the comments, the mentioned users,
//! the candidates' role and active flag, then the visibility facts (defects and
//! memberships), each read once for the whole batch, and `store::insert`'s own.
use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, JoinType, QueryFilter,
    QuerySelect, RelationTrait,
};

use super::{
    mentions,
    policy::{self, What, Who},
    store::{self, New},
    visibility,
};
use crate::{
    domain::defects::{journal, live},
    engine::Consumer,
    entities::{
        comments, defect_events, defect_watchers, defects,
        enums::{DefectEventKind, Role},
        project_members, users,
    },
    error::AppResult,
};

/// The consumer's name: its row in `engine_positions`.
pub const NAME: &str = "notifications";

/// Values per `IN (…)` list (well under both backends' parameter limits).
const CHUNK: usize = 5000;

/// The journal consumer that writes notifications.
pub struct Derive {
    /// The server sends e-mail (`SMTP_URL` is set): queue a copy of each notification.
    pub email: bool,
}

#[async_trait]
impl Consumer for Derive {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        events: &[defect_events::Model],
    ) -> AppResult<()> {
        let rows = derive(txn, events).await?;
        store::insert(txn, rows, self.email).await?;
        // After the inserts: rows made from a state read before a delete or restore
        // committed are set right when its event comes (`visibility.rs`).
        let flipped: HashSet<i32> = events
            .iter()
            .filter(|e| matches!(e.kind, DefectEventKind::Deleted | DefectEventKind::Restored))
            .map(|e| e.defect_id)
            .collect();
        visibility::refresh(txn, &flipped).await?;
        Ok(())
    }
}

/// The notifications `events` give, before muting and dedupe: at most one per user and
/// event, never to the actor, an inactive user or one who cannot see the defect now.
pub async fn derive(
    db: &impl ConnectionTrait,
    events: &[defect_events::Model],
) -> AppResult<Vec<New>> {
    let changes: Vec<Vec<journal::FieldChange>> = events.iter().map(journal::changes_of).collect();
    let whats: Vec<What> = events
        .iter()
        .zip(&changes)
        .map(|(e, c)| What::of(e.kind, c))
        .collect();
    let notifying: Vec<usize> = (0..events.len()).filter(|&i| whats[i].notifies()).collect();
    if notifying.is_empty() {
        return Ok(Vec::new());
    }
    let ids = |want: &dyn Fn(&What) -> bool, of: &dyn Fn(&defect_events::Model) -> i32| {
        notifying
            .iter()
            .filter(|&&i| want(&whats[i]))
            .map(|&i| of(&events[i]))
            .collect::<HashSet<i32>>()
    };

    let performers_now = performers(db, ids(&|w| w.deadline, &|e| e.defect_id)).await?;
    let as_of = policy::performers_as_of(
        &events
            .iter()
            .zip(&changes)
            .map(|(e, c)| (e.defect_id, c.as_slice()))
            .collect::<Vec<_>>(),
        &performers_now,
    );
    let watchers = watchers(db, ids(&|w| w.concerns_watchers(), &|e| e.defect_id)).await?;
    let managers = managers(db, ids(&What::review, &|e| e.project_id)).await?;
    let bodies = comments(
        db,
        notifying
            .iter()
            .filter(|&&i| whats[i].commented)
            .filter_map(|&i| events[i].comment_id)
            .collect(),
    )
    .await?;
    let said: HashMap<i32, Vec<Vec<String>>> = bodies
        .iter()
        .map(|(&id, body)| (id, mentions::mentions(body)))
        .collect();
    let named = usernames(db, said.values().flatten().flatten().cloned().collect()).await?;

    let mut pairs = Vec::new();
    for &i in &notifying {
        let event = &events[i];
        let mentioned: Vec<i32> = event
            .comment_id
            .and_then(|c| said.get(&c))
            .into_iter()
            .flatten()
            .filter_map(|candidates| candidates.iter().find_map(|n| named.get(n).copied()))
            .collect();
        let who = Who {
            actor: event.actor_id,
            performer: as_of[i],
            managers: managers.get(&event.project_id).map_or(&[], Vec::as_slice),
            watchers: watchers.get(&event.defect_id).map_or(&[], Vec::as_slice),
            mentioned: &mentioned,
        };
        for (user, kind) in policy::recipients(&whats[i], &who) {
            pairs.push((i, user, kind));
        }
    }

    let roles = active_roles(db, pairs.iter().map(|&(_, u, _)| u).collect()).await?;
    let mut audience: Vec<(i32, Role)> = roles.iter().map(|(&u, &r)| (u, r)).collect();
    audience.sort_unstable_by_key(|&(u, _)| u);
    let concerned: Vec<defect_events::Model> =
        notifying.iter().map(|&i| events[i].clone()).collect();
    let access = live::access_of_users(db, &audience, &concerned).await?;
    Ok(pairs
        .into_iter()
        .filter_map(|(i, user, kind)| {
            let event = &events[i];
            let role = *roles.get(&user)?;
            access.sees(user, role, event).then(|| New {
                user_id: user,
                defect_id: event.defect_id,
                project_id: event.project_id,
                kind,
                event_id: Some(event.id),
                actor_id: Some(event.actor_id),
                deadline: None,
                dedupe: format!("e:{}", event.id),
            })
        })
        .collect())
}

/// The current performer of each of `defects` (purged ones are absent).
async fn performers(
    db: &impl ConnectionTrait,
    defects: HashSet<i32>,
) -> AppResult<HashMap<i32, Option<i32>>> {
    if defects.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(defects::Entity::find()
        .select_only()
        .column(defects::Column::Id)
        .column(defects::Column::PerformerId)
        .filter(defects::Column::Id.is_in(defects))
        .into_tuple::<(i32, Option<i32>)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// The watchers of each of `defects` (rows with `watching = false` are explicit
/// unwatches, not watchers), sorted.
async fn watchers(
    db: &impl ConnectionTrait,
    defects: HashSet<i32>,
) -> AppResult<HashMap<i32, Vec<i32>>> {
    let mut out: HashMap<i32, Vec<i32>> = HashMap::new();
    if defects.is_empty() {
        return Ok(out);
    }
    for (defect, user) in defect_watchers::Entity::find()
        .select_only()
        .column(defect_watchers::Column::DefectId)
        .column(defect_watchers::Column::UserId)
        .filter(defect_watchers::Column::DefectId.is_in(defects))
        .filter(defect_watchers::Column::Watching.eq(true))
        .into_tuple::<(i32, i32)>()
        .all(db)
        .await?
    {
        out.entry(defect).or_default().push(user);
    }
    out.values_mut().for_each(|v| v.sort_unstable());
    Ok(out)
}

/// The managers of each of `projects`: members whose role is MANAGER (admins are not
/// asked to review, even as members: the contract names the role).
async fn managers(
    db: &impl ConnectionTrait,
    projects: HashSet<i32>,
) -> AppResult<HashMap<i32, Vec<i32>>> {
    let mut out: HashMap<i32, Vec<i32>> = HashMap::new();
    if projects.is_empty() {
        return Ok(out);
    }
    for (project, user) in project_members::Entity::find()
        .select_only()
        .column(project_members::Column::ProjectId)
        .column(project_members::Column::UserId)
        .join(JoinType::InnerJoin, project_members::Relation::User.def())
        .filter(project_members::Column::ProjectId.is_in(projects))
        .filter(users::Column::Role.eq(Role::Manager))
        .into_tuple::<(i32, i32)>()
        .all(db)
        .await?
    {
        out.entry(project).or_default().push(user);
    }
    Ok(out)
}

/// The bodies of `ids` (a purged defect's comments are absent).
async fn comments(db: &impl ConnectionTrait, ids: HashSet<i32>) -> AppResult<HashMap<i32, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(comments::Entity::find()
        .select_only()
        .column(comments::Column::Id)
        .column(comments::Column::Body)
        .filter(comments::Column::Id.is_in(ids))
        .into_tuple::<(i32, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// The users named exactly `names` (see `mentions.rs` for the case rule).
async fn usernames(
    db: &impl ConnectionTrait,
    names: HashSet<String>,
) -> AppResult<HashMap<String, i32>> {
    let names: Vec<String> = names.into_iter().collect();
    let mut out = HashMap::new();
    for chunk in names.chunks(CHUNK) {
        out.extend(
            users::Entity::find()
                .select_only()
                .column(users::Column::Username)
                .column(users::Column::Id)
                .filter(users::Column::Username.is_in(chunk.iter().cloned()))
                .into_tuple::<(String, i32)>()
                .all(db)
                .await?,
        );
    }
    Ok(out)
}

/// The role of each of `ids` that is active (inactive users are absent).
async fn active_roles(
    db: &impl ConnectionTrait,
    ids: HashSet<i32>,
) -> AppResult<HashMap<i32, Role>> {
    let ids: Vec<i32> = ids.into_iter().collect();
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        out.extend(
            users::Entity::find()
                .select_only()
                .column(users::Column::Id)
                .column(users::Column::Role)
                .filter(users::Column::Id.is_in(chunk.iter().copied()))
                .filter(users::Column::IsActive.eq(true))
                .into_tuple::<(i32, Role)>()
                .all(db)
                .await?,
        );
    }
    Ok(out)
}
