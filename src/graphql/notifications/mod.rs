//! The inbox over GraphQL (NOTIFY.md, "Reading" and "Live"): `Notification`,
//! `Query.notifications`, `myNotificationSettings`, `markNotificationsRead`,
//! `updateMyNotificationSettings`; `Subscription.notifications` in `live.rs`.
mod live;

pub use live::NotificationSubscription;

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    domain::{
        notifications::{
            describe, inbox,
            settings::{self, Patch},
            store::Settings,
        },
        pagination::PageArgs,
    },
    entities::{enums::NotificationKind, notifications},
    error::{AppError, GqlResultExt},
    graphql::{
        context::ContextExt,
        defects::{Defect, DefectEvent},
        loaders::{
            self, EventByIdLoader, LiveDefectByIdLoader, ProjectByIdLoader, SettingsByUserLoader,
            UserByIdLoader,
        },
        pagination::{PageInfo, clamp_total, parts},
        users::User,
    },
    i18n::Msg,
};

/// One notification of the viewer.
#[derive(Clone)]
pub struct Notification(pub notifications::Model);

#[Object]
impl Notification {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Pass as `after` to `notifications` (query or subscription) to continue after this one.
    async fn cursor(&self) -> String {
        inbox::cursor(&self.0).encode()
    }
    async fn kind(&self) -> NotificationKind {
        self.0.kind
    }
    /// The defect it is about (a notification is listed only while the viewer can see it).
    // Listed only for a visible defect, so the id is authorised and one batched load
    // serves a page.
    async fn defect(&self, ctx: &Context<'_>) -> async_graphql::Result<Defect> {
        loaders::load_one::<LiveDefectByIdLoader>(ctx, self.0.defect_id)
            .await?
            .map(Defect)
            .ok_or_else(|| AppError::NotFound(Msg::DefectNotFound))
            .gql()
    }
    /// The journal event that caused it; null for DUE_SOON, OVERDUE and ESCALATED (the clock caused them).
    async fn event(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DefectEvent>> {
        let Some(id) = self.0.event_id else {
            return Ok(None);
        };
        Ok(loaders::load_one::<EventByIdLoader>(ctx, id)
            .await?
            .map(DefectEvent))
    }
    /// Who caused it; null for the clock's notifications.
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.actor_id else {
            return Ok(None);
        };
        Ok(loaders::load_one::<UserByIdLoader>(ctx, id)
            .await?
            .map(User::from))
    }
    /// One line in the recipient's language.
    async fn text(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let n = &self.0;
        let (settings, defect, project, actor, event) = tokio::try_join!(
            loaders::load_one::<SettingsByUserLoader>(ctx, n.user_id),
            loaders::load_one::<LiveDefectByIdLoader>(ctx, n.defect_id),
            loaders::load_one::<ProjectByIdLoader>(ctx, n.project_id),
            async {
                match n.actor_id {
                    Some(id) => loaders::load_one::<UserByIdLoader>(ctx, id).await,
                    None => Ok(None),
                }
            },
            async {
                match n.event_id {
                    Some(id) => loaders::load_one::<EventByIdLoader>(ctx, id).await,
                    None => Ok(None),
                }
            },
        )?;
        let defect = defect
            .ok_or_else(|| AppError::NotFound(Msg::DefectNotFound))
            .gql()?;
        let lang = settings.unwrap_or_default().language;
        Ok(describe::text(
            &lang,
            &describe::Rows {
                notification: n,
                defect: &defect,
                project: project.as_ref(),
                actor: actor.as_ref(),
                event: event.as_ref(),
            },
        ))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.0.read_at
    }
}

#[derive(SimpleObject, Clone)]
pub struct NotificationEdge {
    pub cursor: String,
    pub node: Notification,
}

#[derive(SimpleObject)]
pub struct NotificationConnection {
    pub edges: Vec<NotificationEdge>,
    pub nodes: Vec<Notification>,
    pub page_info: PageInfo,
    /// All rows the list holds (with `unreadOnly`, the unread), over all pages.
    pub total_count: i32,
    /// The viewer's unread notifications about defects it can see now.
    pub unread_count: i32,
}

#[derive(SimpleObject)]
pub struct NotificationSettings {
    /// E-mail a copy of each notification (when the server has SMTP configured).
    pub email: bool,
    /// Kinds never created for this user.
    pub muted: Vec<NotificationKind>,
    /// en or ru: the language of notification texts and e-mails.
    pub language: String,
}

impl From<Settings> for NotificationSettings {
    fn from(s: Settings) -> Self {
        NotificationSettings {
            email: s.email,
            muted: s.muted,
            language: s.language,
        }
    }
}

#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The viewer's notifications, newest first, only about defects the viewer can see now.
    #[graphql(complexity = "crate::graphql::pagination::cost(first) * child_complexity")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "Some(false)")] unread_only: Option<bool>,
    ) -> async_graphql::Result<NotificationConnection> {
        let viewer = ctx.viewer()?;
        let args = PageArgs::new(first, after.as_deref()).gql()?;
        let la = ctx.look_ahead();
        let counts = la.field("totalCount").exists() || la.field("unreadCount").exists();
        let (page, counts) = inbox::list(
            &ctx.state().db,
            viewer,
            &args,
            unread_only.unwrap_or(false),
            counts,
        )
        .await
        .gql()?;
        let rows: Vec<_> = page.items.iter().map(|(_, n)| n.clone()).collect();
        loaders::prime_notifications(ctx, &rows).await?;
        let (edges, page_info) = parts(page.map(Notification));
        Ok(NotificationConnection {
            nodes: edges.iter().map(|e| e.1.clone()).collect(),
            edges: edges
                .into_iter()
                .map(|(cursor, node)| NotificationEdge { cursor, node })
                .collect(),
            page_info,
            total_count: clamp_total(counts.total),
            unread_count: clamp_total(counts.unread),
        })
    }

    async fn my_notification_settings(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<NotificationSettings> {
        let viewer = ctx.viewer()?;
        settings::get(&ctx.state().db, viewer)
            .await
            .gql()
            .map(Into::into)
    }
}

#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Marks the viewer's given notifications read, or all of them when ids is omitted; returns how many changed.
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
    ) -> async_graphql::Result<i32> {
        let viewer = ctx.viewer()?;
        let ids: Option<Vec<String>> = ids.map(|ids| ids.into_iter().map(|i| i.0).collect());
        let n = inbox::mark_read(&ctx.state().db, viewer, ids.as_deref())
            .await
            .gql()?;
        Ok(clamp_total(n))
    }

    async fn update_my_notification_settings(
        &self,
        ctx: &Context<'_>,
        email: Option<bool>,
        muted: Option<Vec<NotificationKind>>,
        language: Option<String>,
    ) -> async_graphql::Result<NotificationSettings> {
        let viewer = ctx.viewer()?;
        let patch = Patch {
            email,
            muted,
            language,
        };
        settings::update(&ctx.state().db, viewer, patch)
            .await
            .gql()
            .map(Into::into)
    }
}
