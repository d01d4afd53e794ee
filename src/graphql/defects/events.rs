//! The activity journal over GraphQL: `DefectEvent`, `Defect.activity`, `Query.activity`.
use crate::i18n::Msg;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::objects::{Attachment, Comment, Defect, StatusChange, user};
use crate::{
    domain::{
        defects::{activity, journal},
        pagination::PageArgs,
    },
    entities::{defect_events, enums::DefectEventKind},
    error::GqlResultExt,
    graphql::{
        context::ContextExt,
        loaders::{
            self, AttachmentsByDefectLoader, CommentsByDefectLoader, HistoryByDefectLoader,
            LiveDefectByIdLoader,
        },
        pagination::wants_total,
        scalars::id,
        users::User,
    },
};

#[derive(SimpleObject, Clone)]
pub struct FieldChange {
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// One entry of the journal.
#[derive(Clone)]
pub struct DefectEvent(pub defect_events::Model);

#[Object]
impl DefectEvent {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Pass as `after` to `activity` or `defectEvents` to continue after this event.
    async fn cursor(&self) -> String {
        activity::cursor(&self.0).encode()
    }
    async fn kind(&self) -> DefectEventKind {
        self.0.kind
    }
    /// The defect (null once it is deleted). Events are listed only for defects the
    /// viewer can see, so the id is already authorised and one batched load serves a page.
    async fn defect(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Defect>> {
        Ok(
            loaders::load_one::<LiveDefectByIdLoader>(ctx, self.0.defect_id)
                .await?
                .map(Defect),
        )
    }
    /// The defect's id even when the defect itself is no longer visible.
    async fn defect_id(&self) -> ID {
        ID(self.0.defect_id.to_string())
    }
    async fn project_id(&self) -> ID {
        ID(self.0.project_id.to_string())
    }
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        user(ctx, self.0.actor_id).await
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    async fn changes(&self) -> Vec<FieldChange> {
        journal::changes_of(&self.0)
            .into_iter()
            .map(|c| FieldChange {
                field: c.field,
                from: c.from,
                to: c.to,
            })
            .collect()
    }
    async fn comment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Comment>> {
        let Some(cid) = self.0.comment_id else {
            return Ok(None);
        };
        let rows = loaders::load_one::<CommentsByDefectLoader>(ctx, self.0.defect_id).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.id == cid)
            .map(Comment))
    }
    /// For STATUS_CHANGED: the history row of the move, with the move's comment (a
    /// status change's comment lives on its `StatusChange` row only, API.md).
    async fn status_change(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<StatusChange>> {
        let Some(sid) = self.0.status_change_id else {
            return Ok(None);
        };
        let rows = loaders::load_one::<HistoryByDefectLoader>(ctx, self.0.defect_id).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .find(|h| h.id == sid)
            .map(StatusChange))
    }
    /// The attachment; a removed one keeps its metadata (its links lead nowhere).
    async fn attachment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Attachment>> {
        let Some(aid) = self.0.attachment_id else {
            return Ok(None);
        };
        let rows = loaders::load_one::<AttachmentsByDefectLoader>(ctx, self.0.defect_id).await?;
        let live = rows.unwrap_or_default().into_iter().find(|a| a.id == aid);
        Ok(live
            .or_else(|| journal::attachment_of(&self.0).map(|m| m.into_row(self.0.defect_id)))
            .map(Attachment))
    }
}

crate::connection!(DefectEventConnection, DefectEventEdge, DefectEvent);

#[derive(InputObject, Default)]
pub struct ActivityFilter {
    pub project_id: Option<ID>,
    pub defect_id: Option<ID>,
    pub actor_id: Option<ID>,
    pub kinds: Option<Vec<DefectEventKind>>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl ActivityFilter {
    fn parse(self) -> async_graphql::Result<activity::ActivityFilter> {
        let opt = |what: Msg, v: &Option<ID>| v.as_ref().map(|v| id(what, v)).transpose();
        Ok(activity::ActivityFilter {
            project_id: opt(Msg::ProjectNotFound, &self.project_id)?,
            defect_id: opt(Msg::DefectNotFound, &self.defect_id)?,
            actor_id: opt(Msg::UserNotFound, &self.actor_id)?,
            kinds: self.kinds,
            from: self.from,
            to: self.to,
        })
    }
}

/// `Defect.activity`: the defect was resolved through `visible_to` already.
pub(super) async fn of_defect(
    ctx: &Context<'_>,
    defect_id: i32,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<DefectEventConnection> {
    let args = PageArgs::new(first, after.as_deref()).gql()?;
    let (page, total) = activity::of_defect(&ctx.state().db, defect_id, &args, wants_total(ctx))
        .await
        .gql()?;
    Ok(DefectEventConnection::new(page.map(DefectEvent), total))
}

#[derive(Default)]
pub struct ActivityQuery;

#[Object]
impl ActivityQuery {
    /// Newest first; events of visible defects only.
    #[graphql(complexity = "crate::graphql::pagination::cost(first) * child_complexity")]
    async fn activity(
        &self,
        ctx: &Context<'_>,
        filter: Option<ActivityFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<DefectEventConnection> {
        let viewer = ctx.viewer()?;
        let args = PageArgs::new(first, after.as_deref()).gql()?;
        let filter = filter.unwrap_or_default().parse()?;
        let (page, total) =
            activity::list(&ctx.state().db, viewer, &filter, &args, wants_total(ctx))
                .await
                .gql()?;
        Ok(DefectEventConnection::new(page.map(DefectEvent), total))
    }
}
