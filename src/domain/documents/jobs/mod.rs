//! Document jobs: `requestDocument`, `documentJob`, `myDocumentJobs` and the signed
//! download. A job is a `document_jobs` row (what was asked, where it stands) plus a
//! job of the engine's queue (kind `document`, [`run`]) that makes the file: claimed
//! under a lease with a heartbeat, so it runs once across instances and again when its
//! instance dies; the row's `attempt` fences writes of an attempt that lost its lease.
//! The file is kept [`KEEP`] after it is done, then removed by the [`expiry`] tick.
mod expiry;
mod run;
pub mod watch;

use std::time::Duration;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
    TransactionTrait,
};

pub use self::{
    run::{Setup, engine_parts},
    watch::Wake,
};
use crate::{
    auth::Viewer,
    domain::{defects::filter::DefectFilter, pagination::PageArgs, reports::export, require},
    entities::{
        document_jobs::{self, Column, DocumentFormat, JobStatus, Model},
        enums::Role,
    },
    error::{AppError, AppResult},
    i18n::{Lang, Msg},
    storage::LinkSigner,
    time,
};

/// The engine queue's kind for document jobs.
pub const KIND: &str = "document";
/// Jobs one user may have queued or running at once.
pub const PER_USER: u64 = 3;
/// How long a finished file is kept (then the [`expiry`] tick removes it).
pub const KEEP: Duration = Duration::from_secs(24 * 3600);

/// What `requestDocument` asks for.
#[derive(Debug, Clone)]
pub struct Request {
    pub format: DocumentFormat,
    pub filter: DefectFilter,
    /// `en`/`ru`: the human form (PDF: its language, `en` when absent).
    pub lang: Option<String>,
    pub photos: bool,
}

/// Queues a document for `viewer`: admins and managers (as the export), a valid filter
/// and language, at most [`PER_USER`] queued or running (more: RATE_LIMITED). The
/// count and the insert are one transaction under the user's row lock (PostgreSQL) or
/// the one write lock (SQLite), so parallel requests through any instances cannot
/// pass the limit together.
pub async fn request(db: &DatabaseConnection, viewer: &Viewer, req: Request) -> AppResult<Model> {
    export::authorize(viewer.clone())?;
    req.filter.check()?;
    let lang = req
        .lang
        .as_deref()
        .map(|l| {
            Lang::parse(l).map(Lang::tag).ok_or_else(|| {
                let all: Vec<&str> = Lang::ALL.iter().map(|l| l.tag()).collect();
                AppError::BadUserInput(Msg::ExpectedAnyOf {
                    field: "lang".into(),
                    choices: all.join(", "),
                })
            })
        })
        .transpose()?;
    let filter = serde_json::to_string(&req.filter).map_err(AppError::internal)?;
    let txn = db.begin().await?;
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        // Not FOR UPDATE: the insert's foreign key takes KEY SHARE on the same row.
        let lock = Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE",
            [viewer.id.into()],
        );
        txn.query_one_raw(lock).await?;
    }
    // The insert comes before the count: on SQLite it takes the write lock first.
    let now = time::now();
    let row = document_jobs::ActiveModel {
        requested_by: Set(viewer.id),
        format: Set(req.format),
        filter: Set(filter),
        lang: Set(lang.map(str::to_owned)),
        photos: Set(req.photos),
        status: Set(JobStatus::Queued),
        progress: Set(0.0),
        attempt: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let open = document_jobs::Entity::find()
        .filter(Column::RequestedBy.eq(viewer.id))
        .filter(Column::Status.is_in([JobStatus::Queued, JobStatus::Running]))
        .count(&txn)
        .await?;
    if open > PER_USER {
        txn.rollback().await?;
        return Err(AppError::RateLimited { retry_after: 30 });
    }
    crate::engine::jobs::enqueue(
        &txn,
        KIND,
        &format!("document:{}", row.id),
        &row.id.to_string(),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// Whether `viewer` may see `job`: its requester, or an admin.
pub fn sees(viewer: &Viewer, job: &Model) -> bool {
    job.requested_by == viewer.id || viewer.role == Role::Admin
}

/// The job, or `None` when it does not exist or `viewer` may not see it.
pub async fn get(db: &DatabaseConnection, viewer: &Viewer, id: i64) -> AppResult<Option<Model>> {
    Ok(document_jobs::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|job| sees(viewer, job)))
}

/// The viewer's jobs, newest first (`first` as in every list: default 20, at most 100);
/// none for a role that cannot request one.
pub async fn mine(
    db: &DatabaseConnection,
    viewer: &Viewer,
    first: Option<i32>,
) -> AppResult<Vec<Model>> {
    let args = PageArgs::new(first, None)?;
    if export::authorize(viewer.clone()).is_err() {
        return Ok(Vec::new());
    }
    Ok(document_jobs::Entity::find()
        .filter(Column::RequestedBy.eq(viewer.id))
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .limit(args.first)
        .all(db)
        .await?)
}

/// The stored file of a DONE job still kept.
fn kept(job: &Model) -> Option<&str> {
    let live = job.expires_at.is_none_or(|at| at > time::now());
    (job.status == JobStatus::Done && live)
        .then_some(job.object_key.as_deref())
        .flatten()
}

/// A signed, short-lived link to the job's file while it is kept.
pub fn url(links: &LinkSigner, job: &Model) -> Option<String> {
    kept(job).map(|_| links.document_url(job.id, time::unix_now()))
}

/// What a download sends.
pub struct Download {
    pub key: String,
    pub content_type: &'static str,
    pub filename: String,
}

/// The file behind a signed link (FORBIDDEN: a bad or expired link; NOT_FOUND: no such
/// job, or its file is not (any longer) there).
pub async fn open_signed(
    db: &DatabaseConnection,
    links: &LinkSigner,
    id: i64,
    exp: u64,
    sig: &str,
) -> AppResult<Download> {
    require(
        links.verify_document(id, exp, sig, time::unix_now()),
        Msg::BadLink,
    )?;
    let job = document_jobs::Entity::find_by_id(id).one(db).await?;
    let job = job.ok_or(AppError::NotFound(Msg::FileNotFound))?;
    let key = kept(&job).ok_or(AppError::NotFound(Msg::FileNotFound))?;
    let (content_type, ext) = match job.format {
        DocumentFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        DocumentFormat::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        DocumentFormat::Pdf => ("application/pdf", "pdf"),
    };
    Ok(Download {
        key: key.to_owned(),
        content_type,
        filename: format!("defects-{}.{ext}", job.id),
    })
}
