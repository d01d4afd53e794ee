//! Report objects and `reports { summary byProject byEngineer }`.
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    domain::{
        reports::{
            queries::Counts,
            service::{self as reports, ReportFilter},
        },
        validate,
    },
    entities::{
        enums::{DefectStatus, Priority},
        projects as project_rows, users as user_rows,
    },
    error::GqlResultExt,
    graphql::{context::ContextExt, projects::Project, users::User},
};

/// GraphQL `Int` is 32-bit; a count beyond it is clamped rather than failing the report.
fn int(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[derive(SimpleObject)]
pub struct StatusCount {
    pub status: DefectStatus,
    pub count: i32,
}

#[derive(SimpleObject)]
pub struct PriorityCount {
    pub priority: Priority,
    pub count: i32,
}

fn by_status(c: &Counts) -> Vec<StatusCount> {
    c.by_status
        .iter()
        .map(|(status, n)| StatusCount {
            status: *status,
            count: int(*n),
        })
        .collect()
}

pub struct ProjectDefectCounts(pub Counts);

/// Counts over the defects of the project that the viewer can see (deleted ones excluded).
#[Object]
impl ProjectDefectCounts {
    /// NEW, IN_PROGRESS or REVIEW.
    async fn open(&self) -> i32 {
        int(self.0.open())
    }
    /// Open with a deadline before the project's today (as `Defect.isOverdue`).
    async fn overdue(&self) -> i32 {
        int(self.0.overdue)
    }
    /// All five statuses, zeros included, in the enum's order.
    async fn by_status(&self) -> Vec<StatusCount> {
        by_status(&self.0)
    }
}

/// Counts over every defect the viewer can see that matches the filter.
pub struct ReportSummary(Counts);

#[Object]
impl ReportSummary {
    async fn total(&self) -> i32 {
        int(self.0.total)
    }
    /// NEW, IN_PROGRESS or REVIEW.
    async fn open(&self) -> i32 {
        int(self.0.open())
    }
    /// Open and the deadline is before today (UTC).
    async fn overdue(&self) -> i32 {
        int(self.0.overdue)
    }
    /// Every status in the enum's order, zeros included.
    async fn by_status(&self) -> Vec<StatusCount> {
        by_status(&self.0)
    }
    /// Every priority in the enum's order, zeros included.
    async fn by_priority(&self) -> Vec<PriorityCount> {
        self.0
            .by_priority
            .iter()
            .map(|(priority, n)| PriorityCount {
                priority: *priority,
                count: int(*n),
            })
            .collect()
    }
    /// Mean hours from creation to closing over CLOSED defects; null when there are none.
    async fn avg_resolution_hours(&self) -> Option<f64> {
        self.0.avg_resolution_hours
    }
}

pub struct ProjectReport(project_rows::Model, Counts);

#[Object]
impl ProjectReport {
    async fn project(&self) -> Project {
        Project(self.0.clone())
    }
    async fn total(&self) -> i32 {
        int(self.1.total)
    }
    async fn open(&self) -> i32 {
        int(self.1.open())
    }
    async fn closed(&self) -> i32 {
        int(self.1.status(DefectStatus::Closed))
    }
    async fn cancelled(&self) -> i32 {
        int(self.1.status(DefectStatus::Cancelled))
    }
    async fn overdue(&self) -> i32 {
        int(self.1.overdue)
    }
    async fn by_status(&self) -> Vec<StatusCount> {
        by_status(&self.1)
    }
    async fn avg_resolution_hours(&self) -> Option<f64> {
        self.1.avg_resolution_hours
    }
}

/// Counts over the defects an engineer performs.
pub struct EngineerReport(user_rows::Model, Counts);

#[Object]
impl EngineerReport {
    async fn engineer(&self) -> User {
        User::from(self.0.clone())
    }
    /// Every defect they perform, any status.
    async fn assigned(&self) -> i32 {
        int(self.1.total)
    }
    async fn open(&self) -> i32 {
        int(self.1.open())
    }
    async fn in_review(&self) -> i32 {
        int(self.1.status(DefectStatus::Review))
    }
    async fn closed(&self) -> i32 {
        int(self.1.status(DefectStatus::Closed))
    }
    async fn overdue(&self) -> i32 {
        int(self.1.overdue)
    }
    async fn avg_resolution_hours(&self) -> Option<f64> {
        self.1.avg_resolution_hours
    }
}

/// All given fields combine with AND.
#[derive(InputObject, Default)]
#[graphql(name = "ReportFilter")]
pub struct ReportFilterInput {
    pub project_id: Option<ID>,
    /// Created at or after (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Created at or before (inclusive).
    pub to: Option<DateTime<Utc>>,
}

impl From<Option<ReportFilterInput>> for ReportFilter {
    fn from(f: Option<ReportFilterInput>) -> Self {
        let f = f.unwrap_or_default();
        ReportFilter {
            project_id: f.project_id.map(|id| validate::id_or_nothing(id.as_str())),
            from: f.from,
            to: f.to,
        }
    }
}

/// What a ranged report (`from`/`to`) costs in the complexity limit
/// ([`super::MAX_COMPLEXITY`], 20,000), besides its fields: it scans the visible defects
/// created in the range ([`ReportFilter::scans`]), where a report without a range reads
/// the maintained aggregate and costs 1 like any field. A fifth of the limit: a document
/// runs at most four ranged reports (a report screen shows three), and one with more
/// (aliased copies, say) is refused before any of them runs.
pub const RANGED_REPORT_COST: usize = 4_000;

/// Reports over the defects the viewer can see.
pub struct Reports;

#[Object]
impl Reports {
    #[graphql(
        complexity = "super::upstream::report_cost(__ctx, __variables_definition, __field, child_complexity)"
    )]
    async fn summary(
        &self,
        ctx: &Context<'_>,
        filter: Option<ReportFilterInput>,
    ) -> async_graphql::Result<ReportSummary> {
        let viewer = ctx.viewer()?;
        reports::summary(&ctx.state().db, viewer, &filter.into())
            .await
            .gql()
            .map(ReportSummary)
    }

    /// Every project the viewer can see, zero rows included, ordered by title; with
    /// `projectId`, that project only.
    #[graphql(
        complexity = "super::upstream::report_cost(__ctx, __variables_definition, __field, child_complexity)"
    )]
    async fn by_project(
        &self,
        ctx: &Context<'_>,
        filter: Option<ReportFilterInput>,
    ) -> async_graphql::Result<Vec<ProjectReport>> {
        let viewer = ctx.viewer()?;
        let rows = reports::by_project(&ctx.state().db, viewer, &filter.into())
            .await
            .gql()?;
        Ok(rows.into_iter().map(|(p, c)| ProjectReport(p, c)).collect())
    }

    /// Every active engineer, zero rows included, ordered by username.
    #[graphql(
        complexity = "super::upstream::report_cost(__ctx, __variables_definition, __field, child_complexity)"
    )]
    async fn by_engineer(
        &self,
        ctx: &Context<'_>,
        filter: Option<ReportFilterInput>,
    ) -> async_graphql::Result<Vec<EngineerReport>> {
        let viewer = ctx.viewer()?;
        let rows = reports::by_engineer(&ctx.state().db, viewer, &filter.into())
            .await
            .gql()?;
        Ok(rows
            .into_iter()
            .map(|(u, c)| EngineerReport(u, c))
            .collect())
    }
}

#[derive(Default)]
pub struct ReportQuery;

#[Object]
impl ReportQuery {
    /// Admins, managers and observers; engineers get FORBIDDEN.
    async fn reports(&self, ctx: &Context<'_>) -> async_graphql::Result<Reports> {
        reports::check(ctx.viewer()?).gql()?;
        Ok(Reports)
    }
}
