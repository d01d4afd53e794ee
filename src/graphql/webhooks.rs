//! Webhooks over GraphQL (NOTIFY.md, "Webhooks"): `Webhook`, `WebhookDelivery`,
//! `Query.webhooks` and the management mutations; the rules are in
//! `domain::webhooks`.
use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    domain::{
        pagination::PageArgs,
        webhooks::{
            self as hooks, deliveries,
            service::{self, Patch, WithSecret},
        },
    },
    entities::{enums::DefectEventKind, webhook_deliveries, webhooks},
    error::{AppError, GqlResultExt},
    graphql::{
        context::ContextExt,
        defects::DefectEvent,
        loaders::{self, EventByIdLoader, ProjectByIdLoader, UserByIdLoader},
        pagination::wants_total,
        projects::Project,
        scalars::id,
        users::User,
    },
    i18n::Msg,
};

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum WebhookDeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

/// One event's delivery to one webhook.
#[derive(Clone)]
pub struct WebhookDelivery(pub webhook_deliveries::Model);

#[Object]
impl WebhookDelivery {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn event_id(&self) -> ID {
        ID(self.0.event_id.to_string())
    }
    async fn event(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DefectEvent>> {
        Ok(loaders::load_one::<EventByIdLoader>(ctx, self.0.event_id)
            .await?
            .map(DefectEvent))
    }
    async fn status(&self) -> WebhookDeliveryStatus {
        match self.0.state.as_str() {
            deliveries::DELIVERED => WebhookDeliveryStatus::Delivered,
            deliveries::FAILED => WebhookDeliveryStatus::Failed,
            _ => WebhookDeliveryStatus::Pending,
        }
    }
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// HTTP status of the last attempt; null when it got no response.
    async fn response_code(&self) -> Option<i32> {
        self.0.response_code
    }
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    async fn last_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_attempt_at
    }
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.state == deliveries::PENDING)
            .then_some(self.0.next_at)
            .flatten()
    }
}

crate::connection!(
    WebhookDeliveryConnection,
    WebhookDeliveryEdge,
    WebhookDelivery
);

/// A receiver of the journal's events (its secret is shown only at creation and rotation).
#[derive(Clone)]
pub struct Webhook(pub webhooks::Model);

#[Object]
impl Webhook {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// null: every project (admins only).
    async fn project(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Project>> {
        match self.0.project_id {
            Some(p) => Ok(loaders::load_one::<ProjectByIdLoader>(ctx, p)
                .await?
                .map(Project)),
            None => Ok(None),
        }
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// Empty: every kind.
    async fn kinds(&self) -> Vec<DefectEventKind> {
        hooks::kinds_typed(&self.0)
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        loaders::load_one::<UserByIdLoader>(ctx, self.0.created_by)
            .await?
            .map(User::from)
            .ok_or_else(|| AppError::NotFound(Msg::UserNotFound))
            .gql()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Newest first.
    #[graphql(complexity = "crate::graphql::pagination::cost(first) * child_complexity")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<WebhookDeliveryConnection> {
        let args = PageArgs::new(first, after.as_deref()).gql()?;
        let db = &ctx.state().db;
        let page = deliveries::page(db, self.0.id, &args).await.gql()?;
        let total = if wants_total(ctx) {
            deliveries::count(db, self.0.id).await.gql()?
        } else {
            0
        };
        Ok(WebhookDeliveryConnection::new(
            page.map(WebhookDelivery),
            total,
        ))
    }
}

#[derive(SimpleObject)]
pub struct WebhookWithSecret {
    pub webhook: Webhook,
    /// whsec_... (Standard Webhooks); shown only here.
    pub secret: String,
}

impl From<WithSecret> for WebhookWithSecret {
    fn from(w: WithSecret) -> Self {
        WebhookWithSecret {
            webhook: Webhook(w.webhook),
            secret: w.secret,
        }
    }
}

fn webhook_id(raw: &ID) -> async_graphql::Result<i32> {
    id(Msg::WebhookNotFound, raw)
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// Admins: all (or one project's); managers: their projects' webhooks.
    async fn webhooks(
        &self,
        ctx: &Context<'_>,
        project_id: Option<ID>,
    ) -> async_graphql::Result<Vec<Webhook>> {
        let viewer = ctx.viewer()?;
        let project = project_id
            .map(|p| id(Msg::ProjectNotFound, &p))
            .transpose()?;
        let rows = service::list(&ctx.state().db, viewer, project)
            .await
            .gql()?;
        Ok(rows.into_iter().map(Webhook).collect())
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        project_id: Option<ID>,
        url: String,
        kinds: Option<Vec<DefectEventKind>>,
    ) -> async_graphql::Result<WebhookWithSecret> {
        let viewer = ctx.viewer()?;
        let project = project_id
            .map(|p| id(Msg::ProjectNotFound, &p))
            .transpose()?;
        let state = ctx.state();
        service::create(
            &state.db,
            viewer,
            project,
            &url,
            &kinds.unwrap_or_default(),
            state.config.webhook_allow_private,
        )
        .await
        .gql()
        .map(Into::into)
    }

    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        id: ID,
        url: Option<String>,
        kinds: Option<Vec<DefectEventKind>>,
        active: Option<bool>,
    ) -> async_graphql::Result<Webhook> {
        let viewer = ctx.viewer()?;
        let id = webhook_id(&id)?;
        let state = ctx.state();
        let patch = Patch { url, kinds, active };
        service::update(
            &state.db,
            viewer,
            id,
            patch,
            state.config.webhook_allow_private,
        )
        .await
        .gql()
        .map(Webhook)
    }

    async fn delete_webhook(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let viewer = ctx.viewer()?;
        let id = webhook_id(&id)?;
        service::delete(&ctx.state().db, viewer, id)
            .await
            .gql()
            .map(|id| ID(id.to_string()))
    }

    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<WebhookWithSecret> {
        let viewer = ctx.viewer()?;
        let id = webhook_id(&id)?;
        service::rotate(&ctx.state().db, viewer, id)
            .await
            .gql()
            .map(Into::into)
    }

    /// Queues every matching event after the cursor (an event cursor) again, in journal order; returns how many.
    async fn replay_webhook(
        &self,
        ctx: &Context<'_>,
        id: ID,
        after: String,
    ) -> async_graphql::Result<i32> {
        let viewer = ctx.viewer()?;
        let id = webhook_id(&id)?;
        let n = service::replay(&ctx.state().db, viewer, id, &after)
            .await
            .gql()?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}
