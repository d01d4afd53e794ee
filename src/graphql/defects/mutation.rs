//! Defect mutations: create, update, delete, assign, move; comments and attachments.
use async_graphql::{Context, ID, MaybeUndefined, Object, Upload};

use super::{
    inputs::{CreateDefectInput, UpdateDefectInput, input_id},
    objects::{Attachment, Comment, Defect},
};
use crate::{
    domain::defects::{attachments, comments, service as defects, trash, watchers},
    entities::enums::DefectStatus,
    error::GqlResultExt,
    graphql::{
        context::ContextExt,
        scalars::{id, patch},
    },
};

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
            project_id: self::id(crate::error::Msg::ProjectNotFound, &input.project_id)?,
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
            location: input.location.map(Into::into),
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
        let id = self::id(crate::error::Msg::DefectNotFound, &id)?;
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
            location: patch(input.location, Into::into),
        };
        defects::update(&ctx.state().db, viewer, id, patch, expected_version)
            .await
            .gql()
            .map(Defect)
    }

    /// Managers and admins. Marks the defect deleted (`deletedAt`); its comments,
    /// attachments and history stay, and `restoreDefect` brings it back.
    async fn delete_defect(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let viewer = ctx.viewer()?;
        let id = self::id(crate::error::Msg::DefectNotFound, &id)?;
        trash::delete(&ctx.state().db, viewer, id)
            .await
            .gql()
            .map(|d| ID(d.id.to_string()))
    }

    /// Admins and managers; the defect and everything on it come back.
    async fn restore_defect(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Defect> {
        let viewer = ctx.viewer()?;
        let id = self::id(crate::error::Msg::DefectNotFound, &id)?;
        trash::restore(&ctx.state().db, viewer, id)
            .await
            .gql()
            .map(Defect)
    }

    /// Admins only; a deleted defect, for good (rows and stored files).
    async fn purge_defect(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let viewer = ctx.viewer()?;
        let id = self::id(crate::error::Msg::DefectNotFound, &id)?;
        let state = ctx.state();
        trash::purge(&state.db, &state.storage, viewer, id)
            .await
            .gql()
            .map(|d| ID(d.to_string()))
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
        let id = self::id(crate::error::Msg::DefectNotFound, &id)?;
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
        let id = self::id(crate::error::Msg::DefectNotFound, &id)?;
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

    /// The viewer watches the defect (gets its news); anyone who can see it, idempotent.
    async fn watch_defect(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Defect> {
        let viewer = ctx.viewer()?;
        let id = self::id(crate::error::Msg::DefectNotFound, &id)?;
        watchers::set(&ctx.state().db, viewer, id, true)
            .await
            .gql()
            .map(Defect)
    }

    /// The viewer stops watching; it sticks (commenting or moving the status does not
    /// make the viewer a watcher again) until `watchDefect`.
    async fn unwatch_defect(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Defect> {
        let viewer = ctx.viewer()?;
        let id = self::id(crate::error::Msg::DefectNotFound, &id)?;
        watchers::set(&ctx.state().db, viewer, id, false)
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
        let id = self::id(crate::error::Msg::DefectNotFound, &defect_id)?;
        let comment = comments::add(&ctx.state().db, viewer, id, &body)
            .await
            .gql()?;
        Ok(Comment(comment))
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
        let id = self::id(crate::error::Msg::DefectNotFound, &defect_id)?;
        let upload = crate::graphql::uploads::read(ctx, file).await?;
        let limit = ctx.state().config.max_upload_bytes;
        let state = ctx.state();
        let attachment = attachments::upload(&state.db, &state.storage, limit, viewer, id, upload)
            .await
            .gql()?;
        Ok(Attachment(attachment))
    }

    /// Managers and admins: any; engineers: the ones they uploaded. Removes the stored files.
    async fn delete_attachment(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let viewer = ctx.viewer()?;
        let id = self::id(crate::error::Msg::AttachmentNotFound, &id)?;
        let state = ctx.state();
        attachments::delete(&state.db, &state.storage, viewer, id)
            .await
            .gql()
            .map(|id| ID(id.to_string()))
    }
}
