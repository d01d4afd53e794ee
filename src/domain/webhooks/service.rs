//! Managing webhooks (NOTIFY.md, "Webhooks"; permissions in `policy.rs`): list, create,
//! update, delete, rotate the secret, replay. Engineers and observers are FORBIDDEN
//! everything; a manager sees only the webhooks of projects they are a member of (any
//! other is NOT_FOUND), an admin every webhook.
use std::collections::BTreeSet;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set, Statement,
    TransactionTrait,
};

use super::{
    address, deliveries, kinds_of,
    policy::{self, Manage},
    sign,
};
use crate::{
    auth::Viewer,
    domain::{defects::activity, pagination::Cursor, projects::service::is_member, require},
    engine::sql,
    entities::{enums::DefectEventKind, project_members, projects, webhooks},
    error::{AppError, AppResult},
    i18n::Msg,
    time,
};

/// Webhooks per scope (one project, or every project).
pub const MAX_PER_SCOPE: u64 = 20;
/// Events one `replayWebhook` queues at most (call again after the last one for more).
pub const MAX_REPLAY: u64 = 10_000;

/// A webhook and its secret, as creation and rotation return them (the only times the
/// secret is shown).
pub struct WithSecret {
    pub webhook: webhooks::Model,
    pub secret: String,
}

fn gate(viewer: &Viewer) -> AppResult<()> {
    require(policy::may_use(viewer.role), Msg::WebhooksAudience)
}

/// The projects a manager is a member of, as a subquery.
fn member_projects(viewer: &Viewer) -> sea_orm::sea_query::SelectStatement {
    project_members::Entity::find()
        .select_only()
        .column(project_members::Column::ProjectId)
        .filter(project_members::Column::UserId.eq(viewer.id))
        .into_query()
}

/// The webhooks `viewer` may see and manage.
fn visible(viewer: &Viewer) -> sea_orm::Select<webhooks::Entity> {
    let all = webhooks::Entity::find();
    if viewer.role == crate::entities::enums::Role::Admin {
        all
    } else {
        all.filter(webhooks::Column::ProjectId.in_subquery(member_projects(viewer)))
    }
}

/// `Query.webhooks`: an admin's all (or one project's); a manager's projects' (a project
/// they are not a member of is FORBIDDEN).
pub async fn list(
    db: &DatabaseConnection,
    viewer: &Viewer,
    project: Option<i32>,
) -> AppResult<Vec<webhooks::Model>> {
    gate(viewer)?;
    let mut q = visible(viewer);
    if let Some(p) = project {
        let member = is_member(db, p, viewer.id).await?;
        if policy::manage(viewer.role, Some(p), member) == Manage::Forbidden {
            return Err(AppError::Forbidden(Msg::WebhookScope));
        }
        q = q.filter(webhooks::Column::ProjectId.eq(p));
    }
    Ok(q.order_by_asc(webhooks::Column::Id).all(db).await?)
}

/// One webhook `viewer` may manage, else NOT_FOUND.
pub async fn get(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
) -> AppResult<webhooks::Model> {
    gate(viewer)?;
    visible(viewer)
        .filter(webhooks::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound(Msg::WebhookNotFound))
}

fn kinds_json(kinds: &[DefectEventKind]) -> String {
    let set: BTreeSet<String> = kinds.iter().map(|&k| super::kind_name(k)).collect();
    serde_json::to_string(&set).unwrap_or_else(|_| "[]".into())
}

/// `createWebhook`.
pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    project: Option<i32>,
    url: &str,
    kinds: &[DefectEventKind],
    allow_private: bool,
) -> AppResult<WithSecret> {
    gate(viewer)?;
    let member = match project {
        Some(p) => {
            projects::Entity::find_by_id(p)
                .one(db)
                .await?
                .ok_or(AppError::NotFound(Msg::ProjectNotFound))?;
            is_member(db, p, viewer.id).await?
        }
        None => false,
    };
    if policy::manage(viewer.role, project, member) == Manage::Forbidden {
        return Err(AppError::Forbidden(Msg::WebhookScope));
    }
    let url = address::check(url, allow_private).await?;
    let scope = match project {
        Some(p) => webhooks::Column::ProjectId.eq(p),
        None => webhooks::Column::ProjectId.is_null(),
    };
    // Two creations at once may both pass the count: the cap bounds the work, not exactly.
    if webhooks::Entity::find().filter(scope).count(db).await? >= MAX_PER_SCOPE {
        return Err(AppError::BadUserInput(Msg::WebhooksPerScope {
            field: "projectId".into(),
            max: MAX_PER_SCOPE,
        }));
    }
    let secret = sign::new_secret();
    let now = time::now();
    let webhook = webhooks::ActiveModel {
        project_id: Set(project),
        url: Set(url.to_string()),
        kinds: Set(kinds_json(kinds)),
        secret: Set(secret.clone()),
        created_by: Set(viewer.id),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(WithSecret { webhook, secret })
}

/// What `updateWebhook` changes.
pub struct Patch {
    pub url: Option<String>,
    pub kinds: Option<Vec<DefectEventKind>>,
    pub active: Option<bool>,
}

/// `updateWebhook`. Reactivating queues the held deliveries again.
pub async fn update(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i32,
    patch: Patch,
    allow_private: bool,
) -> AppResult<webhooks::Model> {
    let hook = get(db, viewer, id).await?;
    let url = match &patch.url {
        Some(u) => Some(address::check(u, allow_private).await?.to_string()),
        None => None,
    };
    let txn = db.begin().await?;
    let mut row: webhooks::ActiveModel = hook.into();
    if let Some(u) = url {
        row.url = Set(u);
    }
    if let Some(k) = &patch.kinds {
        row.kinds = Set(kinds_json(k));
    }
    if let Some(a) = patch.active {
        row.active = Set(a);
    }
    row.updated_at = Set(time::now());
    let hook = row.update(&txn).await?;
    if patch.active == Some(true) {
        deliveries::heads(&txn, BTreeSet::from([hook.id])).await?;
    }
    txn.commit().await?;
    Ok(hook)
}

/// `deleteWebhook`: the webhook and its deliveries go (a queued attempt finds nothing).
pub async fn delete(db: &DatabaseConnection, viewer: &Viewer, id: i32) -> AppResult<i32> {
    let hook = get(db, viewer, id).await?;
    webhooks::Entity::delete_by_id(hook.id).exec(db).await?;
    Ok(hook.id)
}

/// `rotateWebhookSecret`: from now on only the new secret signs.
pub async fn rotate(db: &DatabaseConnection, viewer: &Viewer, id: i32) -> AppResult<WithSecret> {
    let hook = get(db, viewer, id).await?;
    let secret = sign::new_secret();
    let mut row: webhooks::ActiveModel = hook.into();
    row.secret = Set(secret.clone());
    row.updated_at = Set(time::now());
    let webhook = row.update(db).await?;
    Ok(WithSecret { webhook, secret })
}

/// `replayWebhook`: queues again, in journal order, the events after the event cursor
/// `after` that the webhook would receive now (scope, kinds, its creator's reach), up
/// to the consumer's position (later events are queued by the consumer) and at most
/// [`MAX_REPLAY`]; an event already PENDING for it is not queued twice. Returns how
/// many.
pub async fn replay(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i32,
    after: &str,
) -> AppResult<u64> {
    let hook = get(db, viewer, id).await?;
    let after = activity::after_id(&Cursor::decode(after)?)?;
    let reach = deliveries::reach_of(db, BTreeSet::from([hook.created_by])).await?;
    let Some(&reach) = reach.get(&hook.created_by) else {
        return Ok(0);
    };
    let txn = db.begin().await?;
    deliveries::lock(&txn, hook.id).await?;
    let until = deliveries::position(&txn).await?;
    let backend = txn.get_database_backend();
    let now = time::now();
    let mut values: Vec<sea_orm::Value> = vec![
        hook.id.into(),
        now.into(),
        now.into(),
        after.into(),
        until.into(),
        hook.id.into(),
    ];
    let mut text = String::from(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, state, next_at, created_at) \
         SELECT $1, e.id, 'PENDING', $2, $3 FROM defect_events e \
         WHERE e.id > $4 AND e.id <= $5 \
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries w WHERE w.webhook_id = $6 \
         AND w.event_id = e.id AND w.state = 'PENDING') \
         AND EXISTS (SELECT 1 FROM defects d WHERE d.id = e.defect_id \
         AND (d.deleted_at IS NULL OR e.kind = 'DELETED'))",
    );
    let mut n = values.len();
    let mut param = |values: &mut Vec<sea_orm::Value>, v: sea_orm::Value| {
        values.push(v);
        n += 1;
        format!("${n}")
    };
    if let Some(p) = hook.project_id {
        let p = param(&mut values, p.into());
        text.push_str(&format!(" AND e.project_id = {p}"));
    }
    if reach != crate::entities::enums::Role::Admin {
        let u = param(&mut values, hook.created_by.into());
        text.push_str(&format!(
            " AND e.project_id IN (SELECT project_id FROM project_members WHERE user_id = {u})"
        ));
    }
    let kinds = kinds_of(&hook);
    if !kinds.is_empty() {
        let list: Vec<String> = kinds
            .into_iter()
            .map(|k| param(&mut values, k.into()))
            .collect();
        text.push_str(&format!(" AND e.kind IN ({})", list.join(", ")));
    }
    let limit = param(
        &mut values,
        i64::try_from(MAX_REPLAY).unwrap_or(i64::MAX).into(),
    );
    text.push_str(&format!(" ORDER BY e.id LIMIT {limit}"));
    let stmt = Statement::from_sql_and_values(backend, sql(backend, &text), values);
    let queued = txn.execute_raw(stmt).await?.rows_affected();
    if queued > 0 {
        deliveries::heads(&txn, BTreeSet::from([hook.id])).await?;
    }
    txn.commit().await?;
    Ok(queued)
}
