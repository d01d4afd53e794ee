//! The defect and what hangs off it: attachments, comments, history.
use crate::i18n::Msg;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use crate::{
    domain::{
        defects::{keys, policy, transitions},
        projects::site_time,
    },
    entities::{
        attachments as attachment_rows, comments as comment_rows, defects as defect_rows,
        enums::{DefectStatus, Priority},
        status_changes,
    },
    error::{AppError, GqlResultExt},
    graphql::{
        context::{ContextExt, PublicOrigin},
        loaders::{
            self, AttachmentsByDefectLoader, CommentCountByDefectLoader, CommentsByDefectLoader,
            DefectByIdLoader, HistoryByDefectLoader, ProjectByIdLoader, StageByIdLoader,
            UserByIdLoader, WatchersByDefectLoader,
        },
        projects::{Project, Stage},
        scalars::Date,
        users::User,
    },
    storage::FileKind,
    time::unix_now,
};

pub(super) async fn user(ctx: &Context<'_>, id: i32) -> async_graphql::Result<User> {
    loaders::load_one::<UserByIdLoader>(ctx, id)
        .await?
        .map(User::from)
        .ok_or_else(|| AppError::NotFound(Msg::UserNotFound))
        .gql()
}

/// The defect a comment or attachment belongs to: NOT_FOUND when it was deleted meanwhile
/// and the viewer does not see deleted defects (`policy::shows_parent`).
async fn parent(ctx: &Context<'_>, defect_id: i32) -> async_graphql::Result<Defect> {
    let viewer = ctx.viewer()?;
    loaders::load_one::<DefectByIdLoader>(ctx, defect_id)
        .await?
        .filter(|d| policy::shows_parent(viewer, d))
        .map(Defect)
        .ok_or_else(|| AppError::NotFound(crate::i18n::Msg::DefectNotFound))
        .gql()
}

/// A registered defect.
#[derive(Clone)]
pub struct Defect(pub defect_rows::Model);

#[Object]
impl Defect {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn project(&self, ctx: &Context<'_>) -> async_graphql::Result<Project> {
        loaders::load_one::<ProjectByIdLoader>(ctx, self.0.project_id)
            .await?
            .map(Project)
            .ok_or_else(|| AppError::NotFound(Msg::ProjectNotFound))
            .gql()
    }
    async fn stage(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Stage>> {
        match self.0.stage_id {
            Some(id) => Ok(loaders::load_one::<StageByIdLoader>(ctx, id)
                .await?
                .map(Stage)),
            None => Ok(None),
        }
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// 1, 2, 3 ... per project, in creation order.
    async fn number(&self) -> i32 {
        self.0.number
    }
    /// CODE-NNN, e.g. СК1-042; null while the project has no code.
    async fn key(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let project = loaders::load_one::<ProjectByIdLoader>(ctx, self.0.project_id).await?;
        Ok(project
            .and_then(|p| p.code)
            .map(|code| keys::format(&code, self.0.number)))
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn priority(&self) -> Priority {
        self.0.priority
    }
    async fn status(&self) -> DefectStatus {
        self.0.status
    }
    async fn performer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match self.0.performer_id {
            Some(id) => user(ctx, id).await.map(Some),
            None => Ok(None),
        }
    }
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        user(ctx, self.0.author_id).await
    }
    async fn deadline(&self) -> Option<Date> {
        self.0.deadline.map(Date)
    }
    /// Open and the deadline is before the project's today (the local date in its time zone).
    async fn is_overdue(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        if self.0.deadline.is_none() || self.0.status.is_final() {
            return Ok(false);
        }
        let project = loaders::load_one::<ProjectByIdLoader>(ctx, self.0.project_id)
            .await?
            .ok_or_else(|| AppError::NotFound(Msg::ProjectNotFound))
            .gql()?;
        Ok(policy::is_overdue(
            &self.0,
            site_time::today(&project.time_zone),
        ))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }

    /// The pin on a plan of the project, if any.
    async fn location(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::graphql::plans::DefectLocation>> {
        crate::graphql::plans::DefectLocation::of(ctx, &self.0).await
    }

    /// Set while the defect is soft-deleted (seen through `deletedDefects`).
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.0.deleted_at
    }
    /// Bumped by every change to the defect's fields, status or performer; pass it back as
    /// `expectedVersion` to refuse to overwrite someone else's change.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// Photos and documents, oldest first.
    #[graphql(complexity = "5 * child_complexity")]
    async fn attachments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Attachment>> {
        let rows = loaders::load_one::<AttachmentsByDefectLoader>(ctx, self.0.id).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(Attachment)
            .collect())
    }
    /// Oldest first.
    #[graphql(complexity = "5 * child_complexity")]
    async fn comments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Comment>> {
        let rows = loaders::load_one::<CommentsByDefectLoader>(ctx, self.0.id).await?;
        Ok(rows.unwrap_or_default().into_iter().map(Comment).collect())
    }
    async fn comment_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let n = loaders::load_one::<CommentCountByDefectLoader>(ctx, self.0.id).await?;
        Ok(i32::try_from(n.unwrap_or(0)).unwrap_or(i32::MAX))
    }
    /// The journal of this defect: every change, oldest first.
    #[graphql(complexity = "crate::graphql::pagination::cost(first) * child_complexity")]
    async fn activity(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<super::events::DefectEventConnection> {
        super::events::of_defect(ctx, self.0.id, first, after).await
    }
    /// Every status change, oldest first; the first is the creation (`fromStatus: null`).
    #[graphql(complexity = "5 * child_complexity")]
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<StatusChange>> {
        let rows = loaders::load_one::<HistoryByDefectLoader>(ctx, self.0.id).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(StatusChange)
            .collect())
    }
    /// Active users who watch this defect and can see it, by username (NOTIFY.md).
    #[graphql(complexity = "5 * child_complexity")]
    async fn watchers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<User>> {
        let rows = loaders::load_one::<WatchersByDefectLoader>(ctx, self.0.id).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(User::from)
            .collect())
    }
    /// Whether the viewer watches this defect.
    async fn watching(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        loaders::watching(ctx, self.0.id).await
    }
    /// The moves the current user may make now.
    async fn allowed_transitions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<DefectStatus>> {
        Ok(transitions::allowed_to(ctx.viewer()?, &self.0))
    }
}

/// A signed link, absolute when the request's public origin is known.
fn link(ctx: &Context<'_>, id: i32, kind: FileKind) -> String {
    let origin = ctx.data_opt::<PublicOrigin>().map_or("", |o| o.0.as_str());
    format!("{origin}{}", ctx.state().links.url(id, kind, unix_now()))
}

/// A file attached to a defect: a photo (JPEG, PNG, WebP) or a PDF.
#[derive(Clone)]
pub struct Attachment(pub attachment_rows::Model);

#[Object]
impl Attachment {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The uploader's filename, sanitised (metadata only).
    async fn filename(&self) -> &str {
        &self.0.filename
    }
    /// Decided from the content, not the name.
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    /// Bytes.
    async fn size(&self) -> i32 {
        i32::try_from(self.0.size).unwrap_or(i32::MAX)
    }
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    async fn width(&self) -> Option<i32> {
        self.0.width
    }
    async fn height(&self) -> Option<i32> {
        self.0.height
    }
    /// A signed link valid for 15 minutes; usable in `<img src>` without a header.
    async fn url(&self, ctx: &Context<'_>) -> String {
        link(ctx, self.0.id, FileKind::Original)
    }
    /// For images: a JPEG of at most 320 px a side, signed like `url`.
    async fn thumbnail_url(&self, ctx: &Context<'_>) -> Option<String> {
        self.0
            .thumbnail_key
            .as_ref()
            .map(|_| link(ctx, self.0.id, FileKind::Thumbnail))
    }
    async fn uploaded_by(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        user(ctx, self.0.uploaded_by).await
    }
    /// The defect it is attached to (so a client's cache can refresh its `attachments`).
    async fn defect(&self, ctx: &Context<'_>) -> async_graphql::Result<Defect> {
        parent(ctx, self.0.defect_id).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Clone)]
pub struct Comment(pub comment_rows::Model);

#[Object]
impl Comment {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        user(ctx, self.0.author_id).await
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// The defect it is on (so a client's cache can refresh its `comments`, `commentCount`).
    async fn defect(&self, ctx: &Context<'_>) -> async_graphql::Result<Defect> {
        parent(ctx, self.0.defect_id).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Clone)]
pub struct StatusChange(pub status_changes::Model);

#[Object]
impl StatusChange {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn from_status(&self) -> Option<DefectStatus> {
        self.0.from_status
    }
    async fn to_status(&self) -> DefectStatus {
        self.0.to_status
    }
    async fn changed_by(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        user(ctx, self.0.changed_by).await
    }
    async fn changed_at(&self) -> DateTime<Utc> {
        self.0.changed_at
    }
    async fn comment(&self) -> Option<&str> {
        self.0.comment.as_deref()
    }
}

crate::connection!(DefectConnection, DefectEdge, Defect);
