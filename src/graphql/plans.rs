//! Plans (drawings) and pins: the `Plan` and `DefectLocation` objects, the pin's input,
//! and the plan mutations. Thin: the rules are in `domain::plans` and
//! `domain::defects::location`.
use crate::i18n::Msg;
use async_graphql::{Context, ID, InputObject, Object, Upload};
use chrono::{DateTime, Utc};

use crate::{
    domain::{
        defects::location::LocationInput,
        plans::service::{self as plans, NewPlan},
        validate,
    },
    entities::{defects as defect_rows, plans as plan_rows},
    error::{AppError, GqlResultExt},
    graphql::{
        context::{ContextExt, PublicOrigin},
        loaders::{self, PlanByIdLoader, ProjectByIdLoader, StageByIdLoader},
        projects::{Project, Stage},
        scalars::id,
    },
    time::unix_now,
};

/// A drawing of a project (PDF or image) that defects are pinned on.
#[derive(Clone)]
pub struct Plan(pub plan_rows::Model);

impl Plan {
    fn link(&self, ctx: &Context<'_>) -> String {
        let origin = ctx.data_opt::<PublicOrigin>().map_or("", |o| o.0.as_str());
        format!(
            "{origin}{}",
            ctx.state().links.plan_url(self.0.id, unix_now())
        )
    }
}

#[Object]
impl Plan {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn title(&self) -> &str {
        &self.0.title
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
    /// Signed, short-lived, usable in <img src>: the raster the pins' x/y refer to. For
    /// an image plan, the image itself; for a PDF plan, the PDF as uploaded (no raster is
    /// made on the server: the client renders the first page).
    async fn preview_url(&self, ctx: &Context<'_>) -> String {
        self.link(ctx)
    }
    /// Signed, short-lived: the uploaded file.
    async fn url(&self, ctx: &Context<'_>) -> String {
        self.link(ctx)
    }
    /// Pixels, for an image plan; null for a PDF.
    async fn width(&self) -> Option<i32> {
        self.0.width
    }
    /// Pixels, for an image plan; null for a PDF.
    async fn height(&self) -> Option<i32> {
        self.0.height
    }
    /// Decided from the content, not the name.
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    /// The uploader's filename, sanitised (metadata only).
    async fn filename(&self) -> &str {
        &self.0.filename
    }
    /// Bytes.
    async fn size(&self) -> i32 {
        i32::try_from(self.0.size).unwrap_or(i32::MAX)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// x and y in 0..1 of the plan's preview, from its top-left corner.
pub struct DefectLocation {
    plan: plan_rows::Model,
    x: f64,
    y: f64,
    label: Option<String>,
}

impl DefectLocation {
    /// The defect's pin, or `None` without one (or when its plan is gone).
    pub async fn of(
        ctx: &Context<'_>,
        d: &defect_rows::Model,
    ) -> async_graphql::Result<Option<DefectLocation>> {
        let (Some(plan_id), Some(x), Some(y)) = (d.plan_id, d.location_x, d.location_y) else {
            return Ok(None);
        };
        Ok(loaders::load_one::<PlanByIdLoader>(ctx, plan_id)
            .await?
            .map(|plan| DefectLocation {
                plan,
                x,
                y,
                label: d.location_label.clone(),
            }))
    }
}

#[Object]
impl DefectLocation {
    async fn plan(&self) -> Plan {
        Plan(self.plan.clone())
    }
    async fn x(&self) -> f64 {
        self.x
    }
    async fn y(&self) -> f64 {
        self.y
    }
    async fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }
}

/// A pin: a plan of the defect's project, x and y in 0..1 of its preview (from the
/// top-left corner), and an optional label ("ось C-D/7, отм. +9.600").
#[derive(InputObject)]
pub struct DefectLocationInput {
    pub plan_id: ID,
    pub x: f64,
    pub y: f64,
    pub label: Option<String>,
}

impl From<DefectLocationInput> for LocationInput {
    fn from(l: DefectLocationInput) -> Self {
        LocationInput {
            // Not one of our ids: reported by the check as a plan of another project.
            plan_id: validate::parse_id(l.plan_id.as_str()),
            x: l.x,
            y: l.y,
            label: l.label,
        }
    }
}

#[derive(Default)]
pub struct PlanMutation;

#[Object]
impl PlanMutation {
    /// Admins and managers. A PDF or an image (JPEG, PNG, WebP), recognised by content.
    async fn upload_plan(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        stage_id: Option<ID>,
        title: String,
        file: Upload,
    ) -> async_graphql::Result<Plan> {
        let viewer = ctx.viewer()?;
        let project_id = id(crate::error::Msg::ProjectNotFound, &project_id)?;
        let stage_id = stage_id
            .as_ref()
            .map(|s| {
                validate::id_or_bad_input(
                    s.as_str(),
                    Msg::NoSuchStage {
                        field: "stageId".into(),
                    },
                )
            })
            .transpose()
            .gql()?;
        let file = crate::graphql::uploads::read(ctx, file).await?;
        let state = ctx.state();
        let input = NewPlan {
            project_id,
            stage_id,
            title,
            file,
        };
        let limit = state.config.max_upload_bytes;
        plans::upload(&state.db, &state.storage, limit, viewer, input)
            .await
            .gql()
            .map(Plan)
    }

    /// Admins and managers; refused (CONFLICT) while defects are pinned to it.
    async fn delete_plan(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let viewer = ctx.viewer()?;
        let id = self::id(crate::error::Msg::PlanNotFound, &id)?;
        let state = ctx.state();
        plans::delete(&state.db, &state.storage, viewer, id)
            .await
            .gql()
            .map(|id| ID(id.to_string()))
    }
}
