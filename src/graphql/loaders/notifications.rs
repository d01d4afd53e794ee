//! What a notification names besides its defect: its journal event, and its recipient's
//! settings (the language of `text`); primed for a page of the inbox.
use std::collections::{BTreeSet, HashMap};

use async_graphql::{Context, dataloader::Loader};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::{LiveDefectByIdLoader, ProjectByIdLoader, UserByIdLoader, load_if};
use crate::{
    domain::notifications::store::{Settings, settings_of},
    entities::{defect_events, notifications},
    error::AppError,
};

/// Journal events by id, WITHOUT a visibility check: only for the event of a
/// notification the viewer was shown (its own, about a defect it can see).
pub struct EventByIdLoader(pub DatabaseConnection);
/// Notification settings by user (the defaults for a user without a row).
pub struct SettingsByUserLoader(pub DatabaseConnection);

impl Loader<i32> for EventByIdLoader {
    type Value = defect_events::Model;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = defect_events::Entity::find()
            .filter(defect_events::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|e| (e.id, e)).collect())
    }
}

impl Loader<i32> for SettingsByUserLoader {
    type Value = Settings;
    type Error = AppError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        settings_of(&self.0, keys.iter().copied()).await
    }
}

/// One query per relation for a page of notifications, for what the selection asks:
/// `text` reads the defect, its project, the actor, the event and the settings.
pub async fn prime_notifications(
    ctx: &Context<'_>,
    rows: &[notifications::Model],
) -> async_graphql::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let wants = |field: &str| {
        let la = ctx.look_ahead();
        la.field("nodes").field(field).exists()
            || la.field("edges").field("node").field(field).exists()
    };
    let wants_below = |field: &str, below: &str| {
        let la = ctx.look_ahead();
        la.field("nodes").field(field).field(below).exists()
            || la
                .field("edges")
                .field("node")
                .field(field)
                .field(below)
                .exists()
    };
    let text = wants("text");
    let defects: BTreeSet<i32> = rows.iter().map(|n| n.defect_id).collect();
    let projects: BTreeSet<i32> = rows.iter().map(|n| n.project_id).collect();
    let events: BTreeSet<i32> = rows.iter().filter_map(|n| n.event_id).collect();
    let actors: BTreeSet<i32> = rows.iter().filter_map(|n| n.actor_id).collect();
    let users: BTreeSet<i32> = rows.iter().map(|n| n.user_id).collect();
    tokio::try_join!(
        load_if::<LiveDefectByIdLoader>(ctx, text || wants("defect"), &defects),
        load_if::<ProjectByIdLoader>(
            ctx,
            text || wants_below("defect", "key") || wants_below("defect", "project"),
            &projects
        ),
        load_if::<EventByIdLoader>(ctx, text || wants("event"), &events),
        load_if::<UserByIdLoader>(ctx, text || wants("actor"), &actors),
        load_if::<SettingsByUserLoader>(ctx, text, &users),
    )?;
    Ok(())
}
