//! The engine's handler for document jobs (kind [`KIND`]): one attempt makes the file
//! into a temporary file while a heartbeat renews the queue's lease and writes the
//! progress, uploads it to storage and records DONE; any failure records FAILED with
//! its reason. Every write to the row is fenced by the attempt, so an attempt whose
//! lease ran out (its instance stalled, another took the job) changes nothing.
use std::{
    fs::File,
    io::Seek,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use tokio::io::AsyncWriteExt;

use super::{KEEP, KIND, watch::Wake};
use crate::{
    auth::Viewer,
    domain::{
        defects::filter::DefectFilter,
        documents::xlsx,
        reports::export::{self, BOM, Form, Rows},
    },
    engine::{Handler, Parts, jobs},
    entities::{
        self,
        document_jobs::{self, Column, DocumentFormat, JobStatus},
        users,
    },
    error::{AppError, AppResult},
    i18n::Lang,
    storage::Storage,
    time,
};

/// A lease a heartbeat renews every [`RENEW_EVERY`]: a dead instance's job is taken
/// again within this long.
pub const LEASE: Duration = Duration::from_secs(30);
const RENEW_EVERY: Duration = Duration::from_secs(5);
/// How often the heartbeat looks at the progress (written at each 5 % or each second).
const BEAT: Duration = Duration::from_millis(200);
/// Attempts before a job that keeps dying (a crash it causes, say) is given up.
const MAX_ATTEMPTS: i32 = 3;

/// What document jobs need besides the database.
pub struct Setup {
    pub storage: Arc<Storage>,
    /// `DOCUMENT_JOBS`: jobs this process runs at once.
    pub concurrency: usize,
    pub wake: Arc<Wake>,
}

/// The handler and the expiry tick.
pub fn engine_parts(setup: Setup) -> Parts {
    Parts {
        handlers: vec![Arc::new(Documents {
            storage: setup.storage.clone(),
            concurrency: setup.concurrency.max(1),
            wake: setup.wake.clone(),
        })],
        ticks: vec![Arc::new(super::expiry::Expiry {
            storage: setup.storage,
            wake: setup.wake,
        })],
        ..Parts::default()
    }
}

struct Documents {
    storage: Arc<Storage>,
    concurrency: usize,
    wake: Arc<Wake>,
}

/// Why an attempt stopped short of DONE.
enum Stop {
    /// Another attempt owns the job now: write nothing.
    Lost,
    /// Record FAILED with this reason.
    Failed(String),
}

impl From<AppError> for Stop {
    fn from(e: AppError) -> Self {
        if let AppError::Internal(cause) = &e {
            tracing::error!(error = %cause, "a document job failed");
        }
        Stop::Failed(e.to_string())
    }
}

impl From<sea_orm::DbErr> for Stop {
    fn from(e: sea_orm::DbErr) -> Self {
        AppError::from(e).into()
    }
}

/// Rows done of rows expected, shared by the writer and the heartbeat.
#[derive(Default)]
struct Progress {
    done: AtomicU64,
    total: AtomicU64,
}

impl Progress {
    /// 0 to 1, below 1 until the job is DONE (rows may come while it runs).
    fn fraction(&self) -> f64 {
        let total = self.total.load(Ordering::Relaxed);
        if total == 0 {
            return 0.0;
        }
        (self.done.load(Ordering::Relaxed) as f64 / total as f64).min(0.99)
    }
}

#[async_trait]
impl Handler for Documents {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn lease(&self) -> Duration {
        LEASE
    }

    fn concurrency(&self) -> usize {
        self.concurrency
    }

    async fn run(&self, db: &DatabaseConnection, job: &entities::jobs::Model) -> jobs::Outcome {
        let Ok(id) = job.payload.parse::<i64>() else {
            return jobs::Outcome::Failed(format!("not a document job id: {}", job.payload));
        };
        let outcome = match self.attempt(db, job, id).await {
            Ok(()) | Err(Stop::Lost) => jobs::Outcome::Done,
            Err(Stop::Failed(reason)) => match self.fail(db, id, job.attempts, &reason).await {
                Ok(()) => jobs::Outcome::Failed(reason),
                // Not recorded: the lease runs out and another attempt tries again.
                Err(e) => jobs::Outcome::Retry {
                    error: e.to_string(),
                    at: time::now(),
                },
            },
        };
        self.wake.bump();
        outcome
    }
}

/// The rows of the attempt's row, if it still owns it.
fn owned(id: i64, attempt: i32) -> sea_orm::UpdateMany<document_jobs::Entity> {
    document_jobs::Entity::update_many()
        .filter(Column::Id.eq(id))
        .filter(Column::Attempt.eq(attempt))
}

impl Documents {
    async fn fail(
        &self,
        db: &DatabaseConnection,
        id: i64,
        attempt: i32,
        reason: &str,
    ) -> AppResult<()> {
        let now = time::now();
        document_jobs::Entity::update_many()
            .set(document_jobs::ActiveModel {
                status: Set(JobStatus::Failed),
                error: Set(Some(reason.to_owned())),
                attempt: Set(attempt),
                finished_at: Set(Some(now)),
                updated_at: Set(now),
                ..Default::default()
            })
            .filter(Column::Id.eq(id))
            .filter(Column::Attempt.lte(attempt))
            .filter(Column::Status.is_in([JobStatus::Queued, JobStatus::Running]))
            .exec(db)
            .await?;
        Ok(())
    }

    async fn attempt(
        &self,
        db: &DatabaseConnection,
        job: &entities::jobs::Model,
        id: i64,
    ) -> Result<(), Stop> {
        let Some(doc) = document_jobs::Entity::find_by_id(id).one(db).await? else {
            return Ok(()); // its requester is gone, and the row with them
        };
        if doc.status.is_final() || doc.attempt >= job.attempts {
            return Ok(());
        }
        if job.attempts > MAX_ATTEMPTS {
            return Err(Stop::Failed(format!(
                "gave up after {MAX_ATTEMPTS} attempts"
            )));
        }
        // The requester as of now: a user deactivated or demoted since gets nothing.
        let user = users::Entity::find_by_id(doc.requested_by).one(db).await?;
        let viewer = match user {
            Some(u) if u.is_active => Viewer::from_user(&u),
            _ => return Err(Stop::Failed("the requester is no longer active".into())),
        };
        let permit = export::authorize(viewer.clone())?;
        let filter: DefectFilter = serde_json::from_str(&doc.filter).map_err(AppError::internal)?;
        let lang = doc.lang.as_deref().and_then(Lang::parse);
        let form = lang.map_or(Form::Machine, Form::Human);
        let todays = filter.todays(db).await?;
        let rows = permit.rows(db.clone(), filter.clone(), todays, form);
        let progress = Arc::new(Progress::default());
        let total = rows.count().await?;
        progress.total.store(total, Ordering::Relaxed);
        let now = time::now();
        let started = owned(id, doc.attempt)
            .set(document_jobs::ActiveModel {
                status: Set(JobStatus::Running),
                attempt: Set(job.attempts),
                progress: Set(0.0),
                rows: Set(Some(i64::try_from(total).unwrap_or(i64::MAX))),
                error: Set(None),
                started_at: Set(Some(now)),
                updated_at: Set(now),
                ..Default::default()
            })
            .filter(Column::Status.is_in([JobStatus::Queued, JobStatus::Running]))
            .exec(db)
            .await?;
        if started.rows_affected == 0 {
            return Err(Stop::Lost);
        }
        self.wake.bump();
        let out = tempfile::tempfile().map_err(AppError::internal)?;
        let made = {
            let counter = progress.clone();
            let done = move |n: u64| counter.done.store(n, Ordering::Relaxed);
            let render = async move {
                match doc.format {
                    DocumentFormat::Xlsx => Ok(xlsx::write(rows, out, &done).await?),
                    DocumentFormat::Csv => {
                        Ok(write_csv(rows, form.bom_by_default(), out, &done).await?)
                    }
                    DocumentFormat::Pdf => {
                        render_pdf(
                            db,
                            &self.storage,
                            &viewer,
                            &filter,
                            lang,
                            doc.photos,
                            total,
                            &done,
                            out,
                        )
                        .await
                    }
                }
            };
            self.heartbeat(db, job, id, render, &progress).await?
        };
        let (file, n) = made;
        let ext = match doc.format {
            DocumentFormat::Csv => "csv",
            DocumentFormat::Xlsx => "xlsx",
            DocumentFormat::Pdf => "pdf",
        };
        let key = format!("documents/{id}/{}.{ext}", job.attempts);
        // The upload keeps the lease too (a large file to a slow store).
        let upload = async {
            let put = self.storage.put_file(&key, tokio::fs::File::from_std(file));
            put.await.map_err(|e| Stop::from(AppError::internal(e)))
        };
        self.heartbeat(db, job, id, upload, &progress).await?;
        let now = time::now();
        let expires = now + chrono::Duration::from_std(KEEP).unwrap_or(chrono::Duration::MAX);
        let done = owned(id, job.attempts)
            .set(document_jobs::ActiveModel {
                status: Set(JobStatus::Done),
                progress: Set(1.0),
                rows: Set(Some(i64::try_from(n).unwrap_or(i64::MAX))),
                object_key: Set(Some(key.clone())),
                finished_at: Set(Some(now)),
                expires_at: Set(Some(expires)),
                updated_at: Set(now),
                ..Default::default()
            })
            .filter(Column::Status.eq(JobStatus::Running))
            .exec(db)
            .await?;
        if done.rows_affected == 0 {
            self.storage.delete_all(&[key]).await;
            return Err(Stop::Lost);
        }
        Ok(())
    }

    /// Runs `render` while renewing the lease and writing the progress (when it moved
    /// 5 % or a second passed); stops it when the lease is lost.
    async fn heartbeat<T>(
        &self,
        db: &DatabaseConnection,
        job: &entities::jobs::Model,
        id: i64,
        render: impl Future<Output = Result<T, Stop>>,
        progress: &Progress,
    ) -> Result<T, Stop> {
        let mut beat = tokio::time::interval(BEAT);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut renewed, mut written, mut shown) = (Instant::now(), Instant::now(), 0.0);
        tokio::pin!(render);
        loop {
            tokio::select! {
                made = &mut render => return made,
                _ = beat.tick() => {}
            }
            if renewed.elapsed() >= RENEW_EVERY {
                if !jobs::renew(db, job, LEASE).await? {
                    return Err(Stop::Lost);
                }
                renewed = Instant::now();
            }
            let p = progress.fraction();
            if p > shown && (p - shown >= 0.05 || written.elapsed() >= Duration::from_secs(1)) {
                let n = owned(id, job.attempts)
                    .set(document_jobs::ActiveModel {
                        progress: Set(p),
                        updated_at: Set(time::now()),
                        ..Default::default()
                    })
                    .filter(Column::Status.eq(JobStatus::Running))
                    .exec(db)
                    .await?;
                if n.rows_affected == 0 {
                    return Err(Stop::Lost);
                }
                (shown, written) = (p, Instant::now());
                self.wake.bump();
            }
        }
    }
}

/// The export's CSV into `out` (rewound when returned), batch by batch.
async fn write_csv(
    mut rows: Rows,
    bom: bool,
    out: File,
    done: &(dyn Fn(u64) + Send + Sync),
) -> AppResult<(File, u64)> {
    let mut file = tokio::fs::File::from_std(out);
    let (mut first, mut n) = (true, 0u64);
    while let Some(batch) = rows.next_batch().await? {
        let mut chunk = Vec::new();
        if first && bom {
            chunk.extend_from_slice(BOM);
        }
        let chunk = batch.csv(chunk, first)?;
        file.write_all(&chunk).await.map_err(AppError::internal)?;
        n += batch.len() as u64;
        done(n);
        first = false;
    }
    file.flush().await.map_err(AppError::internal)?;
    let mut out = file.into_std().await;
    out.rewind().map_err(AppError::internal)?;
    Ok((out, n))
}

/// The PDF of a job (`documents::pdf::render`, the renderer of the synchronous
/// `handover.pdf`), written to `out`. Its progress runs over two layout passes (`0..=2 ×
/// rows`); it is reported on the job's scale of `rows` (`total`).
#[allow(clippy::too_many_arguments)]
async fn render_pdf(
    db: &DatabaseConnection,
    storage: &Storage,
    viewer: &Viewer,
    filter: &DefectFilter,
    lang: Option<Lang>,
    photos: bool,
    total: u64,
    progress: &(dyn Fn(u64) + Send + Sync),
    out: File,
) -> Result<(File, u64), Stop> {
    let opts = crate::domain::documents::pdf::PdfOptions {
        lang: lang.unwrap_or(Lang::En),
        photos,
    };
    let on_step = |done: u64, steps: u64| {
        let scaled = u128::from(done) * u128::from(total) / u128::from(steps.max(1));
        progress(u64::try_from(scaled).unwrap_or(total));
    };
    let mut writer = std::io::BufWriter::new(out);
    let rows = crate::domain::documents::pdf::render(
        db,
        storage,
        viewer,
        filter.clone(),
        opts,
        &on_step,
        &mut writer,
    )
    .await?;
    let mut out = writer
        .into_inner()
        .map_err(|e| AppError::internal(e.into_error()))?;
    out.rewind().map_err(AppError::internal)?;
    Ok((out, rows))
}
