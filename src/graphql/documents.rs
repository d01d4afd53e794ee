//! Document jobs over GraphQL (FIELD.md "Handover documents"): `DocumentJob`,
//! `documentJob`, `myDocumentJobs`, `requestDocument`, `Subscription.documentJob`.
use async_graphql::{Context, ID, Object, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};

use crate::{
    domain::documents::jobs::{self, Request, watch},
    entities::document_jobs::{DocumentFormat, JobStatus, Model},
    error::{AppError, GqlResultExt},
    graphql::{
        context::ContextExt,
        defects::{DefectFilterInput, too_many},
        loaders::{self, UserByIdLoader},
        users::User,
    },
    i18n::Msg,
};

/// A document made by a job.
#[derive(Clone)]
pub struct DocumentJob(pub Model);

#[Object]
impl DocumentJob {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn format(&self) -> DocumentFormat {
        self.0.format
    }
    async fn status(&self) -> JobStatus {
        self.0.status
    }
    /// 0 to 1.
    async fn progress(&self) -> f64 {
        self.0.progress
    }
    /// Defects in the document (known once it runs).
    async fn rows(&self) -> Option<i32> {
        self.0.rows.map(|n| i32::try_from(n).unwrap_or(i32::MAX))
    }
    /// Signed, short-lived; set when DONE (while the file is kept, at least 24 hours).
    async fn url(&self, ctx: &Context<'_>) -> Option<String> {
        jobs::url(&ctx.state().links, &self.0)
    }
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    async fn requested_by(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        loaders::load_one::<UserByIdLoader>(ctx, self.0.requested_by)
            .await?
            .map(User::from)
            .ok_or_else(|| AppError::NotFound(Msg::UserNotFound))
            .gql()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
}

/// An id that is not a job's finds nothing.
fn job_id(id: &ID) -> Option<i64> {
    id.as_str().parse().ok().filter(|n: &i64| *n > 0)
}

#[derive(Default)]
pub struct DocumentQuery;

#[Object]
impl DocumentQuery {
    /// The requester's job (admins: anyone's); null when absent or not theirs.
    async fn document_job(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<DocumentJob>> {
        let viewer = ctx.viewer()?;
        let Some(id) = job_id(&id) else {
            return Ok(None);
        };
        Ok(jobs::get(&ctx.state().db, viewer, id)
            .await
            .gql()?
            .map(DocumentJob))
    }

    /// The viewer's jobs, newest first.
    #[graphql(complexity = "crate::graphql::pagination::cost(first) * child_complexity")]
    async fn my_document_jobs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<DocumentJob>> {
        let viewer = ctx.viewer()?;
        let rows = jobs::mine(&ctx.state().db, viewer, first).await.gql()?;
        Ok(rows.into_iter().map(DocumentJob).collect())
    }
}

#[derive(Default)]
pub struct DocumentMutation;

#[Object]
impl DocumentMutation {
    /// Admins and managers, like the export. lang: en or ru (the human form); photos only for PDF.
    async fn request_document(
        &self,
        ctx: &Context<'_>,
        format: DocumentFormat,
        filter: Option<DefectFilterInput>,
        lang: Option<String>,
        #[graphql(default_with = "Some(true)")] photos: Option<bool>,
    ) -> async_graphql::Result<DocumentJob> {
        let viewer = ctx.viewer()?;
        let state = ctx.state();
        let req = Request {
            format,
            filter: filter.unwrap_or_default().into(),
            lang,
            photos: photos.unwrap_or(true),
        };
        let job = jobs::request(&state.db, viewer, req).await.gql()?;
        state.engine.jobs_queued();
        Ok(DocumentJob(job))
    }
}

#[derive(Default)]
pub struct DocumentSubscription;

#[Subscription]
impl DocumentSubscription {
    /// The job's state whenever it changes (progress at least every 5 % or every second); ends after DONE or FAILED.
    async fn document_job(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<DocumentJob>> + use<>> {
        let viewer = ctx.viewer()?.clone();
        let state = ctx.state().clone();
        let place = state
            .live
            .place(viewer.id)
            .map_err(|full| too_many(full.max))?;
        // Joined before the read, so a change in between wakes it.
        let woken = state.documents.subscribe();
        let job = match job_id(&id) {
            Some(id) => jobs::get(&state.db, &viewer, id).await.gql()?,
            None => None,
        };
        let job = job
            .ok_or_else(|| AppError::NotFound(Msg::DocumentJobNotFound))
            .gql()?;
        Ok(watch::changes(state.db.clone(), woken, job).map(move |r| {
            let _held = &place; // the per-user place, given back when the stream ends
            r.map(DocumentJob).gql()
        }))
    }
}
