//! Defect, Comment and StatusChange objects; the defect queries and mutations.
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Upload};
use chrono::{DateTime, Utc};
use tokio::io::AsyncReadExt;

use crate::{
    domain::{
        defects::{
            attachments, comments,
            filter::{self, DefectOrderField, SortDirection},
            service as defects,
        },
        pagination::PageArgs,
    },
    entities::{
        attachments as attachment_rows, comments as comment_rows, defects as defect_rows,
        enums::{DefectStatus, Priority},
        status_changes,
    },
    error::{AppError, GqlResultExt, found_or_null},
    graphql::{
        context::ContextExt,
        loaders::{
            self, AttachmentsByDefectLoader, CommentCountByDefectLoader, CommentsByDefectLoader,
            HistoryByDefectLoader, ProjectByIdLoader, StageByIdLoader, UserByIdLoader,
        },
        pagination::wants_total,
        projects::{Project, Stage},
        scalars::{Date, id, patch},
        users::User,
    },
    http::graphql::PublicOrigin,
    storage::FileKind,
    time::unix_now,
};

async fn user(ctx: &Context<'_>, id: i32) -> async_graphql::Result<User> {
    loaders::load_one::<UserByIdLoader>(ctx, id)
        .await?
        .map(User::from)
        .ok_or_else(|| AppError::not_found("user"))
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
            .ok_or_else(|| AppError::not_found("project"))
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
    /// Open and the deadline is before today (UTC).
    async fn is_overdue(&self) -> bool {
        defects::is_overdue(&self.0, crate::time::today())
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
    /// The moves the current user may make now.
    async fn allowed_transitions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<DefectStatus>> {
        Ok(defects::allowed_transitions(ctx.viewer()?, &self.0))
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

/// All given fields combine with AND.
#[derive(InputObject, Default)]
#[graphql(name = "DefectFilter")]
pub struct DefectFilterInput {
    pub project_id: Option<ID>,
    pub stage_id: Option<ID>,
    pub performer_id: Option<ID>,
    pub author_id: Option<ID>,
    /// Any of these (an empty list: any status).
    pub status: Option<Vec<DefectStatus>>,
    /// Any of these (an empty list: any priority).
    pub priority: Option<Vec<Priority>>,
    /// Inclusive.
    pub created_from: Option<DateTime<Utc>>,
    /// Inclusive.
    pub created_to: Option<DateTime<Utc>>,
    /// Inclusive.
    pub deadline_from: Option<Date>,
    /// Inclusive.
    pub deadline_to: Option<Date>,
    /// `true`: open and the deadline is before today (UTC); `false`: all others.
    pub overdue: Option<bool>,
    /// Case-insensitive substring of the title or description; `%` and `_` are literal.
    pub search: Option<String>,
}

impl From<DefectFilterInput> for filter::DefectFilter {
    fn from(f: DefectFilterInput) -> Self {
        let id = |v: Option<ID>| v.map(|i| filter::filter_id(i.as_str()));
        filter::DefectFilter {
            project_id: id(f.project_id),
            stage_id: id(f.stage_id),
            performer_id: id(f.performer_id),
            author_id: id(f.author_id),
            status: f.status.unwrap_or_default(),
            priority: f.priority.unwrap_or_default(),
            created_from: f.created_from,
            created_to: f.created_to,
            deadline_from: f.deadline_from.map(|d| d.0),
            deadline_to: f.deadline_to.map(|d| d.0),
            overdue: f.overdue,
            search: f.search,
        }
    }
}

#[derive(InputObject)]
pub struct DefectOrder {
    pub field: DefectOrderField,
    #[graphql(default_with = "SortDirection::Desc")]
    pub direction: SortDirection,
}

#[derive(InputObject)]
pub struct CreateDefectInput {
    pub project_id: ID,
    pub stage_id: Option<ID>,
    pub title: String,
    pub description: Option<String>,
    /// Default MEDIUM.
    pub priority: Option<Priority>,
    pub deadline: Option<Date>,
    /// Managers only: an active ENGINEER who is a member of the project.
    pub performer_id: Option<ID>,
}

/// An omitted field is left as it is; an explicit null clears a nullable field.
#[derive(InputObject)]
pub struct UpdateDefectInput {
    pub stage_id: MaybeUndefined<ID>,
    pub title: MaybeUndefined<String>,
    pub description: MaybeUndefined<String>,
    pub priority: MaybeUndefined<Priority>,
    pub deadline: MaybeUndefined<Date>,
}

/// A stage or performer id in input: one that is not ours is reported against its field.
fn input_id(field: &str, raw: &ID) -> async_graphql::Result<i32> {
    match filter::filter_id(raw.as_str()) {
        0 => Err(AppError::bad_input(field, "no such object")).gql(),
        id => Ok(id),
    }
}

#[derive(Default)]
pub struct DefectQuery;

#[Object]
impl DefectQuery {
    /// Defects the viewer can see. Default order: newest first.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn defects(
        &self,
        ctx: &Context<'_>,
        filter: Option<DefectFilterInput>,
        order_by: Option<DefectOrder>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<DefectConnection> {
        let viewer = ctx.viewer()?;
        let db = &ctx.state().db;
        let args = PageArgs::new(first, after.as_deref()).gql()?;
        let filter: filter::DefectFilter = filter.unwrap_or_default().into();
        let order = order_by.map_or_else(filter::DefectOrder::default, |o| filter::DefectOrder {
            field: o.field,
            direction: o.direction,
        });
        let page = defects::list(db, viewer, &filter, order, &args)
            .await
            .gql()?;
        let rows: Vec<_> = page.items.iter().map(|(_, d)| d.clone()).collect();
        loaders::prime_defects(ctx, &rows).await?;
        let total = if wants_total(ctx) {
            defects::count(db, viewer, &filter).await.gql()?
        } else {
            0
        };
        Ok(DefectConnection::new(page.map(Defect), total))
    }

    /// A defect, or null when it does not exist or is not visible to the viewer.
    async fn defect(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Defect>> {
        let viewer = ctx.viewer()?;
        let Ok(id) = self::id("defect", &id) else {
            return Ok(None);
        };
        let Some(d) = found_or_null(defects::get(&ctx.state().db, viewer, id).await)? else {
            return Ok(None);
        };
        loaders::prime_defects(ctx, std::slice::from_ref(&d)).await?;
        Ok(Some(Defect(d)))
    }
}

#[derive(Default)]
pub struct DefectMutation;

#[Object]
impl DefectMutation {
    async fn create_defect(
        &self,
        ctx: &Context<'_>,
        input: CreateDefectInput,
    ) -> async_graphql::Result<Defect> {
        let viewer = ctx.viewer()?;
        let input = defects::NewDefect {
            project_id: self::id("project", &input.project_id)?,
            stage_id: input
                .stage_id
                .as_ref()
                .map(|s| input_id("stageId", s))
                .transpose()?,
            title: input.title,
            description: input.description,
            priority: input.priority,
            deadline: input.deadline.map(|d| d.0),
            performer_id: input
                .performer_id
                .as_ref()
                .map(|p| input_id("performerId", p))
                .transpose()?,
        };
        defects::create(&ctx.state().db, viewer, input)
            .await
            .gql()
            .map(Defect)
    }

    async fn update_defect(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateDefectInput,
        expected_version: Option<i32>,
    ) -> async_graphql::Result<Defect> {
        let viewer = ctx.viewer()?;
        let id = self::id("defect", &id)?;
        let stage_id = match input.stage_id {
            MaybeUndefined::Value(s) => Some(Some(input_id("stageId", &s)?)),
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Undefined => None,
        };
        let patch = defects::DefectPatch {
            stage_id,
            title: patch(input.title, |v| v),
            description: patch(input.description, |v| v),
            priority: patch(input.priority, |v| v),
            deadline: patch(input.deadline, |d| d.0),
        };
        defects::update(&ctx.state().db, viewer, id, patch, expected_version)
            .await
            .gql()
            .map(Defect)
    }

    /// Managers and admins. Removes the defect with its comments, history and attachments.
    async fn delete_defect(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let viewer = ctx.viewer()?;
        let id = self::id("defect", &id)?;
        let state = ctx.state();
        defects::delete(&state.db, &state.storage, viewer, id)
            .await
            .gql()
            .map(|d| ID(d.id.to_string()))
    }

    /// Managers and admins. `performerId: null` unassigns (only while NEW).
    async fn assign_defect(
        &self,
        ctx: &Context<'_>,
        id: ID,
        performer_id: Option<ID>,
        expected_version: Option<i32>,
    ) -> async_graphql::Result<Defect> {
        let viewer = ctx.viewer()?;
        let id = self::id("defect", &id)?;
        let performer = performer_id
            .as_ref()
            .map(|p| input_id("performerId", p))
            .transpose()?;
        defects::assign(&ctx.state().db, viewer, id, performer, expected_version)
            .await
            .gql()
            .map(Defect)
    }

    /// Moves the defect through the status machine; `comment` is kept on the history row.
    async fn change_defect_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: DefectStatus,
        comment: Option<String>,
        expected_version: Option<i32>,
    ) -> async_graphql::Result<Defect> {
        let viewer = ctx.viewer()?;
        let id = self::id("defect", &id)?;
        defects::change_status(
            &ctx.state().db,
            viewer,
            id,
            status,
            comment,
            expected_version,
        )
        .await
        .gql()
        .map(Defect)
    }

    /// Anyone who can see the defect; final defects take comments too.
    async fn add_comment(
        &self,
        ctx: &Context<'_>,
        defect_id: ID,
        body: String,
    ) -> async_graphql::Result<Comment> {
        let viewer = ctx.viewer()?;
        let id = self::id("defect", &defect_id)?;
        comments::add(&ctx.state().db, viewer, id, &body)
            .await
            .gql()
            .map(Comment)
    }

    /// Attaches a photo or PDF (GraphQL multipart request). Managers and admins: any
    /// visible defect; engineers: their own. The type is decided from the content.
    async fn upload_attachment(
        &self,
        ctx: &Context<'_>,
        defect_id: ID,
        file: Upload,
    ) -> async_graphql::Result<Attachment> {
        let viewer = ctx.viewer()?;
        let id = self::id("defect", &defect_id)?;
        let value = file
            .value(ctx)
            .map_err(|_| AppError::bad_input("file", "no file was sent"))
            .gql()?;
        let limit = ctx.state().config.max_upload_bytes;
        let mut bytes = Vec::new();
        // The multipart reader already enforces the limit; reading one byte past it keeps
        // this safe even if that ever changes.
        tokio::fs::File::from_std(value.content)
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .await
            .map_err(AppError::internal)
            .gql()?;
        let upload = attachments::Upload {
            filename: value.filename,
            bytes,
        };
        let state = ctx.state();
        attachments::upload(&state.db, &state.storage, limit, viewer, id, upload)
            .await
            .gql()
            .map(Attachment)
    }

    /// Managers and admins: any; engineers: the ones they uploaded. Removes the stored files.
    async fn delete_attachment(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let viewer = ctx.viewer()?;
        let id = self::id("attachment", &id)?;
        let state = ctx.state();
        attachments::delete(&state.db, &state.storage, viewer, id)
            .await
            .gql()
            .map(|id| ID(id.to_string()))
    }
}
