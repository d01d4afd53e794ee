//! `myNotificationSettings` and `updateMyNotificationSettings`: a user's own settings,
//! the defaults until the first update writes the row.
use sea_orm::{ConnectionTrait, EntityTrait, Set, sea_query::OnConflict};

use super::store::{Settings, settings_of};
use crate::{
    auth::Viewer,
    entities::{enums::NotificationKind, notification_settings},
    error::{AppError, AppResult},
    i18n::Msg,
    time,
};

/// The languages of notification texts and e-mails.
pub const LANGUAGES: [&str; 2] = ["en", "ru"];

/// What an update changes; `None` keeps the stored value (or the default).
#[derive(Clone, Debug, Default)]
pub struct Patch {
    pub email: Option<bool>,
    pub muted: Option<Vec<NotificationKind>>,
    pub language: Option<String>,
}

/// The viewer's settings (the defaults without a row).
pub async fn get(db: &impl ConnectionTrait, viewer: &Viewer) -> AppResult<Settings> {
    Ok(settings_of(db, [viewer.id])
        .await?
        .remove(&viewer.id)
        .unwrap_or_default())
}

/// Applies `patch` to the viewer's settings in one upsert (only the given columns are
/// written, so concurrent updates of different fields both stick). A language other
/// than `en` or `ru` is BAD_USER_INPUT naming `language`, and nothing is written.
pub async fn update(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    patch: Patch,
) -> AppResult<Settings> {
    if let Some(lang) = &patch.language
        && !LANGUAGES.contains(&lang.as_str())
    {
        return Err(AppError::BadUserInput(Msg::ExpectedAnyOf {
            field: "language".into(),
            choices: LANGUAGES.join(", "),
        }));
    }
    let muted = patch.muted.map(|kinds| {
        let mut unique: Vec<NotificationKind> = Vec::with_capacity(kinds.len());
        for k in kinds {
            if !unique.contains(&k) {
                unique.push(k);
            }
        }
        unique
    });
    let mut columns = Vec::new();
    if patch.email.is_some() {
        columns.push(notification_settings::Column::Email);
    }
    if muted.is_some() {
        columns.push(notification_settings::Column::Muted);
    }
    if patch.language.is_some() {
        columns.push(notification_settings::Column::Language);
    }
    if columns.is_empty() {
        return get(db, viewer).await;
    }
    columns.push(notification_settings::Column::UpdatedAt);
    let defaults = Settings::default();
    let row = notification_settings::ActiveModel {
        user_id: Set(viewer.id),
        email: Set(patch.email.unwrap_or(defaults.email)),
        muted: Set(
            serde_json::to_string(&muted.unwrap_or(defaults.muted)).map_err(AppError::internal)?
        ),
        language: Set(patch.language.unwrap_or(defaults.language)),
        updated_at: Set(time::now()),
    };
    notification_settings::Entity::insert(row)
        .on_conflict(
            OnConflict::column(notification_settings::Column::UserId)
                .update_columns(columns)
                .to_owned(),
        )
        .exec(db)
        .await?;
    get(db, viewer).await
}
