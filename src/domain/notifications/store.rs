//! The one writer of `notifications`: the journal's consumer and the clock both call
//! [`insert`], inside the engine pass that holds the `notifications` position, so
//! notification ids commit in order (a reader following `id > last` misses nothing, as
//! with the journal).
use std::collections::{HashMap, HashSet};

use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, Statement};

use crate::{
    engine::jobs,
    entities::{enums::NotificationKind, notification_settings, notifications},
    error::AppResult,
    time,
};

/// The e-mail job kind: payload `{"notification": <id>}`.
pub const EMAIL_JOB: &str = "email";

/// A notification to create (before muting and dedupe).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct New {
    pub user_id: i32,
    pub defect_id: i32,
    pub project_id: i32,
    pub kind: NotificationKind,
    pub event_id: Option<i32>,
    pub actor_id: Option<i32>,
    pub deadline: Option<chrono::NaiveDate>,
    /// Its cause, unique per user: `e:<event id>` or `c:<kind>:<defect>:<deadline>`.
    pub dedupe: String,
}

/// A user's settings, or the defaults when the user has no row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub email: bool,
    pub muted: Vec<NotificationKind>,
    pub language: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            email: true,
            muted: Vec::new(),
            language: "en".into(),
        }
    }
}

impl Settings {
    pub fn of(row: &notification_settings::Model) -> Self {
        Settings {
            email: row.email,
            muted: serde_json::from_str(&row.muted).unwrap_or_default(),
            language: row.language.clone(),
        }
    }
}

/// The settings of `users` (defaults for those without a row), in one statement.
pub async fn settings_of(
    db: &impl ConnectionTrait,
    users: impl IntoIterator<Item = i32>,
) -> AppResult<HashMap<i32, Settings>> {
    let ids: HashSet<i32> = users.into_iter().collect();
    let mut out: HashMap<i32, Settings> = ids.iter().map(|&id| (id, Settings::default())).collect();
    if ids.is_empty() {
        return Ok(out);
    }
    for row in notification_settings::Entity::find()
        .filter(notification_settings::Column::UserId.is_in(ids))
        .all(db)
        .await?
    {
        out.insert(row.user_id, Settings::of(&row));
    }
    Ok(out)
}

/// Inserts `rows` but those of a muted kind and those already there (same user and
/// `dedupe`), and queues an e-mail for each inserted one whose user wants e-mail when
/// `email` (the server has SMTP) — a constant number of statements however many rows.
/// Returns the inserted rows. Call it inside an engine pass holding `notifications`.
pub async fn insert(
    db: &impl ConnectionTrait,
    rows: Vec<New>,
    email: bool,
) -> AppResult<Vec<notifications::Model>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let settings = settings_of(db, rows.iter().map(|r| r.user_id)).await?;
    let rows: Vec<New> = rows
        .into_iter()
        .filter(|r| {
            settings
                .get(&r.user_id)
                .is_none_or(|s| !s.muted.contains(&r.kind))
        })
        .collect();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let now = time::now();
    let mut inserted = Vec::with_capacity(rows.len());
    // Chunks keep each statement within both databases' bound-parameter limits.
    for chunk in rows.chunks(CHUNK) {
        inserted.extend(insert_chunk(db, chunk, now).await?);
    }
    if inserted.is_empty() {
        return Ok(inserted);
    }
    if backend == DatabaseBackend::Postgres {
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            "SELECT pg_notify($1, '')",
            [super::CHANNEL.into()],
        ))
        .await?;
    }
    if email {
        let mails: Vec<(String, String)> = inserted
            .iter()
            .filter(|n| settings.get(&n.user_id).is_none_or(|s| s.email))
            .map(|n| {
                (
                    format!("email:{}", n.id),
                    serde_json::json!({ "notification": n.id }).to_string(),
                )
            })
            .collect();
        jobs::enqueue_many(db, EMAIL_JOB, &mails, now).await?;
    }
    Ok(inserted)
}

/// Rows per INSERT statement (10 values each).
const CHUNK: usize = 1000;

async fn insert_chunk(
    db: &impl ConnectionTrait,
    rows: &[New],
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<Vec<notifications::Model>> {
    let backend = db.get_database_backend();
    let deleted =
        super::visibility::deleted_among(db, &rows.iter().map(|r| r.defect_id).collect()).await?;
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(rows.len() * 10);
    for r in rows {
        let kind: String = sea_orm::ActiveEnum::to_value(&r.kind);
        values.extend([
            r.user_id.into(),
            r.defect_id.into(),
            r.project_id.into(),
            kind.into(),
            r.event_id.into(),
            r.actor_id.into(),
            r.deadline.into(),
            r.dedupe.as_str().into(),
            now.into(),
            deleted.contains(&r.defect_id).into(),
        ]);
    }
    let text = format!(
        "INSERT INTO notifications (user_id, defect_id, project_id, kind, event_id, actor_id, \
         deadline, dedupe, created_at, defect_deleted) VALUES {} \
         ON CONFLICT (user_id, dedupe) DO NOTHING RETURNING *",
        crate::engine::rows_of(backend, rows.len(), 10)
    );
    Ok(notifications::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, text, values))
        .all(db)
        .await?)
}
