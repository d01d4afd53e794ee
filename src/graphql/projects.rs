//! Project and stage objects, queries and mutations.
use crate::i18n::Msg;
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use chrono::{DateTime, Utc};

use crate::{
    domain::{
        pagination::PageArgs,
        projects::{service as projects, settings, stages},
    },
    entities::{enums::ProjectStatus, projects as project_rows, stages as stage_rows},
    error::{AppError, GqlResultExt, found_or_null},
    graphql::{
        context::ContextExt,
        loaders::{
            self, MembersByProjectLoader, PlansByProjectLoader, ProjectByIdLoader,
            StagesByProjectLoader,
        },
        pagination::wants_total,
        plans::Plan,
        reports::ProjectDefectCounts,
        scalars::{Date, id, patch},
        site_time::{self, SlaRule, SlaRuleInput},
        users::User,
    },
};

/// A construction project.
#[derive(Clone)]
pub struct Project(pub project_rows::Model);

#[Object]
impl Project {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// 2-10 letters or digits, unique case-insensitively; fixed once the project has defects.
    async fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn start_date(&self) -> Option<Date> {
        self.0.start_date.map(Date)
    }
    async fn end_date(&self) -> Option<Date> {
        self.0.end_date.map(Date)
    }
    async fn status(&self) -> ProjectStatus {
        self.0.status
    }
    /// IANA time zone of the site (e.g. Asia/Novosibirsk); defines the site's today.
    async fn time_zone(&self) -> &str {
        &self.0.time_zone
    }
    /// Default deadline per priority, in days after the local creation date.
    async fn sla(&self) -> Vec<SlaRule> {
        settings::rules(&self.0)
            .into_iter()
            .map(SlaRule::from)
            .collect()
    }
    /// Open defects this many days past their deadline are escalated to the project's managers; null = never.
    async fn escalate_after_days(&self) -> Option<i32> {
        self.0.escalate_after_days
    }
    /// Ordered by position.
    #[graphql(complexity = "5 * child_complexity")]
    async fn stages(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Stage>> {
        let rows = loaders::load_one::<StagesByProjectLoader>(ctx, self.0.id).await?;
        Ok(rows.unwrap_or_default().into_iter().map(Stage).collect())
    }
    /// Ordered by username.
    #[graphql(complexity = "5 * child_complexity")]
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<User>> {
        let rows = loaders::load_one::<MembersByProjectLoader>(ctx, self.0.id).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(User::from)
            .collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// For a project card: counts over the defects of the project the viewer can see.
    async fn defect_counts(&self, ctx: &Context<'_>) -> async_graphql::Result<ProjectDefectCounts> {
        loaders::defect_counts(ctx, self.0.id)
            .await
            .map(ProjectDefectCounts)
    }
    /// Drawings to pin defects on, oldest first (at most 200 per project).
    #[graphql(complexity = "5 * child_complexity")]
    async fn plans(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Plan>> {
        let rows = loaders::load_one::<PlansByProjectLoader>(ctx, self.0.id).await?;
        Ok(rows.unwrap_or_default().into_iter().map(Plan).collect())
    }
}

crate::connection!(ProjectConnection, ProjectEdge, Project);

/// A stage (phase) of a project.
#[derive(Clone)]
pub struct Stage(pub stage_rows::Model);

#[Object]
impl Stage {
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
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn position(&self) -> i32 {
        self.0.position
    }
    async fn start_date(&self) -> Option<Date> {
        self.0.start_date.map(Date)
    }
    async fn end_date(&self) -> Option<Date> {
        self.0.end_date.map(Date)
    }
}

#[derive(InputObject)]
pub struct CreateProjectInput {
    pub title: String,
    /// 2-10 letters or digits (Cyrillic allowed), the prefix of defect keys; unique
    /// case-insensitively.
    pub code: Option<String>,
    pub description: Option<String>,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
    pub status: Option<ProjectStatus>,
    /// IANA time zone (e.g. Asia/Novosibirsk); UTC when omitted.
    pub time_zone: Option<String>,
    pub sla: Option<Vec<SlaRuleInput>>,
    /// 1..365; omitted or null: never.
    pub escalate_after_days: Option<i32>,
}

/// An omitted field is left as it is; an explicit null clears a nullable field.
#[derive(InputObject)]
pub struct UpdateProjectInput {
    pub title: MaybeUndefined<String>,
    /// Fixed once the project has defects (a project without a code may get one).
    pub code: MaybeUndefined<String>,
    pub description: MaybeUndefined<String>,
    pub start_date: MaybeUndefined<Date>,
    pub end_date: MaybeUndefined<Date>,
    pub status: MaybeUndefined<ProjectStatus>,
    /// Null is refused: a project always has a zone.
    pub time_zone: MaybeUndefined<String>,
    /// Null removes every rule.
    pub sla: MaybeUndefined<Vec<SlaRuleInput>>,
    /// Null: never escalate.
    pub escalate_after_days: MaybeUndefined<i32>,
}

#[derive(InputObject)]
pub struct CreateStageInput {
    pub title: String,
    pub description: Option<String>,
    /// Defaults to after the last stage.
    pub position: Option<i32>,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
}

/// An omitted field is left as it is; an explicit null clears a nullable field.
#[derive(InputObject)]
pub struct UpdateStageInput {
    pub title: MaybeUndefined<String>,
    pub description: MaybeUndefined<String>,
    pub position: MaybeUndefined<i32>,
    pub start_date: MaybeUndefined<Date>,
    pub end_date: MaybeUndefined<Date>,
}

#[derive(Default)]
pub struct ProjectQuery;

#[Object]
impl ProjectQuery {
    /// Projects the viewer can see, ordered by title.
    #[graphql(complexity = "crate::graphql::pagination::cost(first) * child_complexity")]
    async fn projects(
        &self,
        ctx: &Context<'_>,
        status: Option<ProjectStatus>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ProjectConnection> {
        let viewer = ctx.viewer()?;
        let db = &ctx.state().db;
        let args = PageArgs::new(first, after.as_deref()).gql()?;
        let filter = projects::ProjectFilter { status, search };
        let page = projects::list(db, viewer, &filter, &args).await.gql()?;
        let rows: Vec<_> = page.items.iter().map(|(_, p)| p.clone()).collect();
        loaders::prime_projects(ctx, &rows).await?;
        let total = if wants_total(ctx) {
            projects::count(db, viewer, &filter).await.gql()?
        } else {
            0
        };
        Ok(ProjectConnection::new(page.map(Project), total))
    }

    /// A project, or null when it does not exist or is not visible to the viewer.
    async fn project(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Project>> {
        let viewer = ctx.viewer()?;
        let Ok(id) = self::id(crate::error::Msg::ProjectNotFound, &id) else {
            return Ok(None);
        };
        Ok(found_or_null(projects::get(&ctx.state().db, viewer, id).await)?.map(Project))
    }
}

#[derive(Default)]
pub struct ProjectMutation;

#[Object]
impl ProjectMutation {
    async fn create_project(
        &self,
        ctx: &Context<'_>,
        input: CreateProjectInput,
    ) -> async_graphql::Result<Project> {
        let viewer = ctx.viewer()?;
        let input = projects::NewProject {
            title: input.title,
            code: input.code,
            description: input.description,
            start_date: input.start_date.map(|d| d.0),
            end_date: input.end_date.map(|d| d.0),
            status: input.status,
            time_zone: input.time_zone,
            sla: input.sla.map(site_time::rules),
            escalate_after_days: input.escalate_after_days,
        };
        projects::create(&ctx.state().db, viewer, input)
            .await
            .gql()
            .map(Project)
    }

    async fn update_project(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateProjectInput,
    ) -> async_graphql::Result<Project> {
        let viewer = ctx.viewer()?;
        let id = self::id(crate::error::Msg::ProjectNotFound, &id)?;
        let patch = projects::ProjectPatch {
            title: patch(input.title, |v| v),
            code: patch(input.code, |v| v),
            description: patch(input.description, |v| v),
            start_date: patch(input.start_date, |d| d.0),
            end_date: patch(input.end_date, |d| d.0),
            status: patch(input.status, |v| v),
            time_zone: patch(input.time_zone, |v| v),
            sla: patch(input.sla, site_time::rules),
            escalate_after_days: patch(input.escalate_after_days, |v| v),
        };
        projects::update(&ctx.state().db, viewer, id, patch)
            .await
            .gql()
            .map(Project)
    }

    /// Deletes a project with its stages; CONFLICT while it has defects.
    async fn delete_project(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let viewer = ctx.viewer()?;
        let id = self::id(crate::error::Msg::ProjectNotFound, &id)?;
        projects::delete(&ctx.state().db, viewer, id)
            .await
            .gql()
            .map(|id| ID(id.to_string()))
    }

    /// Idempotent: adding a member twice is not an error.
    async fn add_project_member(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        user_id: ID,
    ) -> async_graphql::Result<Project> {
        let viewer = ctx.viewer()?;
        let project_id = self::id(crate::error::Msg::ProjectNotFound, &project_id)?;
        let user_id = self::id(crate::error::Msg::UserNotFound, &user_id)?;
        projects::add_member(&ctx.state().db, viewer, project_id, user_id)
            .await
            .gql()
            .map(Project)
    }

    /// CONFLICT while the user performs open defects in the project.
    async fn remove_project_member(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        user_id: ID,
    ) -> async_graphql::Result<Project> {
        let viewer = ctx.viewer()?;
        let project_id = self::id(crate::error::Msg::ProjectNotFound, &project_id)?;
        let user_id = self::id(crate::error::Msg::UserNotFound, &user_id)?;
        projects::remove_member(&ctx.state().db, viewer, project_id, user_id)
            .await
            .gql()
            .map(Project)
    }

    async fn create_stage(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        input: CreateStageInput,
    ) -> async_graphql::Result<Stage> {
        let viewer = ctx.viewer()?;
        let project_id = self::id(crate::error::Msg::ProjectNotFound, &project_id)?;
        let input = stages::NewStage {
            title: input.title,
            description: input.description,
            position: input.position,
            start_date: input.start_date.map(|d| d.0),
            end_date: input.end_date.map(|d| d.0),
        };
        stages::create(&ctx.state().db, viewer, project_id, input)
            .await
            .gql()
            .map(Stage)
    }

    async fn update_stage(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateStageInput,
    ) -> async_graphql::Result<Stage> {
        let viewer = ctx.viewer()?;
        let id = self::id(crate::error::Msg::StageNotFound, &id)?;
        let patch = stages::StagePatch {
            title: patch(input.title, |v| v),
            description: patch(input.description, |v| v),
            position: patch(input.position, |v| v),
            start_date: patch(input.start_date, |d| d.0),
            end_date: patch(input.end_date, |d| d.0),
        };
        stages::update(&ctx.state().db, viewer, id, patch)
            .await
            .gql()
            .map(Stage)
    }

    /// CONFLICT while the stage has defects.
    async fn delete_stage(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let viewer = ctx.viewer()?;
        let id = self::id(crate::error::Msg::StageNotFound, &id)?;
        stages::delete(&ctx.state().db, viewer, id)
            .await
            .gql()
            .map(|id| ID(id.to_string()))
    }
}
