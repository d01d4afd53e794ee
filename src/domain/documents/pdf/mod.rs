//! The handover PDF (FIELD.md, "Handover documents"): a cover, the table of all
//! defects of a filter, then one section per defect in key order with its place on the
//! plan, photos and status history; A4, DejaVu Sans embedded (subset, with ToUnicode
//! maps: Cyrillic extracts as text), pages numbered `n / N` after the cover.
//!
//! Layout is ours ([`page::Flow`]), drawing is krilla's, on a blocking thread
//! ([`writer`]); why krilla: docs/ARCHITECTURE.md, "Handover PDF: library choice".
//! The layout runs twice, first counting pages without reading any image, so each page
//! can carry `N`. Memory stays bounded: defects are read [`data::BATCH`] at a time,
//! images one at a time under the upload's decoding budget and kept only as scaled
//! JPEGs, and at most [`writer::QUEUE`] laid-out pages wait for the writer. What grows
//! with the report is the written PDF itself (krilla assembles it in memory).
mod cover;
mod data;
mod fonts;
mod images;
mod page;
mod section;
mod words;
mod writer;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use tokio::sync::{Semaphore, mpsc};

use self::{
    data::{Details, Names, Selection},
    images::Plans,
    page::{Flow, Sink},
    words::Words,
};
use crate::{
    auth::Viewer,
    domain::{defects::filter::DefectFilter, reports::policy, require},
    error::{AppError, AppResult},
    i18n::{Lang, Msg},
    storage::Storage,
};

/// What the caller chose besides the filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PdfOptions {
    pub lang: Lang,
    /// Plan excerpts and photos; `false`: no image at all.
    pub photos: bool,
}

impl Default for PdfOptions {
    fn default() -> Self {
        PdfOptions {
            lang: Lang::En,
            photos: true,
        }
    }
}

/// Documents rendered at once in this process; more wait their turn. Each holds its
/// PDF in memory while it is assembled, so this bounds that memory whatever the number
/// of concurrent requests and jobs.
const RENDERS: usize = 2;
static RENDERING: Semaphore = Semaphore::const_new(RENDERS);

/// What every part of the layout reads.
pub(super) struct Ctx<'a> {
    db: &'a DatabaseConnection,
    storage: &'a Storage,
    names: &'a Names,
    selection: &'a Selection,
    filter: &'a DefectFilter,
    words: Words,
    photos: bool,
    /// The document's instant: "today" for overdue marks, the cover's time.
    now: DateTime<Utc>,
    rows: u64,
    tallies: data::Tallies,
}

/// FORBIDDEN for whom the export refuses (the same rule: managers and admins).
pub fn authorize(viewer: &Viewer) -> AppResult<()> {
    require(policy::can_export(viewer.role), Msg::ExportAudience)
}

/// How many defects the document would hold: the sync endpoint's limit is decided by
/// this before any rendering.
pub async fn count(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: &DefectFilter,
) -> AppResult<u64> {
    authorize(viewer)?;
    filter.check()?;
    let todays = filter.todays(db).await?;
    data::count(db, viewer, filter, &todays).await
}

/// One layout run over every defect: cover, table, sections. `progress` is told
/// `(done, total)` as sections are laid out, `offset` being what earlier runs did.
async fn layout(
    ctx: &Ctx<'_>,
    flow: &mut Flow,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
    offset: u64,
) -> AppResult<()> {
    cover::cover(ctx, flow).await?;
    cover::start_table(ctx, flow).await?;
    for &project in &ctx.selection.projects {
        let mut after = 0;
        loop {
            let rows = ctx.selection.batch(ctx.db, project, after).await?;
            for d in &rows {
                cover::row(ctx, flow, d).await?;
            }
            match rows.last() {
                Some(last) if rows.len() as u64 == data::BATCH => after = last.number,
                _ => break,
            }
        }
    }
    if ctx.rows > 0 {
        flow.new_page().await?;
    }
    let mut plans = Plans::default();
    let mut done = 0;
    for &project in &ctx.selection.projects {
        let mut after = 0;
        loop {
            let rows = ctx.selection.batch(ctx.db, project, after).await?;
            let details = Details::load(ctx.db, &rows).await?;
            for d in &rows {
                section::section(ctx, flow, &mut plans, d, &details).await?;
                done += 1;
                progress(offset + done, 2 * ctx.rows.max(done));
            }
            match rows.last() {
                Some(last) if rows.len() as u64 == data::BATCH => after = last.number,
                _ => break,
            }
        }
    }
    Ok(())
}

/// The drawing run with `total` pages announced: the document and the pages it has.
async fn draw(
    ctx: &Ctx<'_>,
    total: u32,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> AppResult<(Vec<u8>, u32)> {
    let (tx, rx) = mpsc::channel(writer::QUEUE);
    let title = ctx.words.t("doc-title");
    let lang = ctx.words.lang.tag();
    let writer = tokio::task::spawn_blocking(move || writer::write(rx, title, lang));
    let mut drawing = Flow::new(Sink::Draw { tx, total });
    let laid = layout(ctx, &mut drawing, progress, ctx.rows).await;
    // Finishing the flow closes the channel, which ends the writer either way.
    let drawn = match laid {
        Ok(()) => drawing.finish().await,
        Err(e) => {
            drop(drawing);
            Err(e)
        }
    };
    let bytes = writer.await.map_err(AppError::internal)?;
    let drawn = drawn?;
    Ok((bytes?, drawn))
}

/// The document for `filter` as the viewer sees it, written to `out`; the number of
/// defects in it. `progress(done, total)` goes from 0 to `total` over both layout runs
/// (the first counts pages, the second draws). FORBIDDEN for engineers and observers.
pub async fn render(
    db: &DatabaseConnection,
    storage: &Storage,
    viewer: &Viewer,
    filter: DefectFilter,
    opts: PdfOptions,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
    out: &mut (dyn std::io::Write + Send),
) -> AppResult<u64> {
    authorize(viewer)?;
    filter.check()?;
    let _turn = RENDERING.acquire().await.map_err(AppError::internal)?;
    let todays = filter.todays(db).await?;
    let names = Names::load(db).await?;
    let selection = Selection::new(db, viewer, &filter, &todays, &names).await?;
    let rows = selection.count(db).await?;
    let ctx = Ctx {
        db,
        storage,
        names: &names,
        selection: &selection,
        filter: &filter,
        words: Words { lang: opts.lang },
        photos: opts.photos,
        now: todays.now(),
        rows,
        tallies: selection.tallies(db).await?,
    };
    progress(0, 2 * rows);
    let mut counting = Flow::new(Sink::Count);
    layout(&ctx, &mut counting, progress, 0).await?;
    let total = counting.finish().await?;

    // Defects edited between the runs can change the number of pages (their set is
    // fixed, their text is not): drawn again once with the number the drawing found.
    let (mut pdf, drawn) = draw(&ctx, total, progress).await?;
    if drawn != total {
        tracing::warn!(
            counted = total,
            drawn,
            "handover PDF: page count changed, drawn again"
        );
        pdf = draw(&ctx, drawn, progress).await?.0;
    }
    out.write_all(&pdf).map_err(AppError::internal)?;
    Ok(rows)
}
