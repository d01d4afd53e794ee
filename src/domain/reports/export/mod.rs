//! The CSV export of defects: the list's filter and visibility, read in keyset batches
//! and encoded as they come, so memory stays flat however many rows match.
//!
//! Rows are ordered by id, ascending: the key that makes each batch an index range scan
//! and the sequence stable while it is read. Each batch is its own statement, not one
//! long transaction, so a slow client holds no snapshot open; a defect added during an
//! export may appear in it if its id is beyond the rows already sent.
//!
//! It lives under `reports`, beside [`policy::can_export`], because an export is a report
//! over defects (same filter, same visibility, same audience rule) rather than a use case
//! of one defect; keeping the rule and the only way to start an export in one module
//! means no caller can reach the rows without passing the check ([`authorize`]).
mod csv;

use crate::i18n::Msg;
use std::sync::Arc;

use futures_util::{Stream, stream};
use sea_orm::{
    ColumnTrait, DatabaseConnection, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

pub use self::csv::{
    BOM, COLUMNS, Cell, Form, column_named, neutralise, priority_label, priority_named, restore,
    status_label,
};
use self::csv::{Names, Row, Spelling, encode};
use super::policy;
use crate::{
    auth::Viewer,
    domain::defects::{filter::DefectFilter, queries},
    domain::{projects::site_time::Todays, require},
    entities::defects::Column,
    error::AppResult,
};

/// Rows per statement: enough to amortise the round trip, few enough that a batch stays
/// around a megabyte. Measured at a million rows (with joined names): 95k rows/s with
/// 1,000, 131k with 5,000. Reading the next batch while encoding the current one was
/// tried and measured slower on 2 cores (~108k rows/s), so batches run in turn.
pub const BATCH: u64 = 5000;

struct Export {
    db: DatabaseConnection,
    viewer: Viewer,
    filter: DefectFilter,
    /// Fixed at the start, so `overdue` means the same in every batch.
    todays: Todays,
    labels: Spelling,
    names: tokio::sync::RwLock<Option<Arc<Names>>>,
}

impl Export {
    /// The names for these rows: read on first use, and again if a row names a project,
    /// stage or user created since.
    async fn names_for(&self, rows: &[Row]) -> AppResult<Arc<Names>> {
        if let Some(names) = self.names.read().await.as_ref()
            && names.cover(rows)
        {
            return Ok(names.clone());
        }
        let names = Arc::new(Names::load(&self.db).await?);
        *self.names.write().await = Some(names.clone());
        Ok(names)
    }

    /// Up to [`BATCH`] matching rows with ids above `after`: one index range scan.
    async fn batch(&self, after: i32) -> AppResult<Vec<Row>> {
        Ok(queries::visible_to(&self.viewer)
            .filter(self.filter.condition(&self.todays))
            .filter(Column::Id.gt(after))
            .select_only()
            .columns([
                Column::Id,
                Column::ProjectId,
                Column::Number,
                Column::StageId,
                Column::Title,
                Column::Description,
                Column::Priority,
                Column::Status,
                Column::PerformerId,
                Column::AuthorId,
                Column::Deadline,
                Column::CreatedAt,
                Column::UpdatedAt,
                Column::ClosedAt,
                Column::PlanId,
                Column::LocationX,
                Column::LocationY,
                Column::LocationLabel,
            ])
            .order_by_asc(Column::Id)
            .limit(BATCH)
            .into_model::<Row>()
            .all(&self.db)
            .await?)
    }
}

/// Proof that the viewer may export: only [`authorize`] makes one, and [`Permit::stream`]
/// is the only way to read an export, so the rule cannot be skipped by a second caller.
/// Split from the stream so the transport can answer 403 before it parses (and refuses
/// with 400) the filter.
#[derive(Debug)]
pub struct Permit {
    viewer: Viewer,
}

/// FORBIDDEN unless [`policy::can_export`] allows the viewer's role.
pub fn authorize(viewer: Viewer) -> AppResult<Permit> {
    require(policy::can_export(viewer.role), Msg::ExportAudience)?;
    Ok(Permit { viewer })
}

impl Permit {
    /// The CSV in chunks, in `form`, after a [`BOM`] if `bom`; see [`stream`].
    pub fn stream(
        self,
        db: DatabaseConnection,
        filter: DefectFilter,
        todays: Todays,
        form: Form,
        bom: bool,
    ) -> impl Stream<Item = AppResult<Vec<u8>>> + Send + 'static {
        stream(self.rows(db, filter, todays, form), bom)
    }

    /// The rows batch by batch, typed, for writers other than the CSV stream (the XLSX
    /// sheet, document jobs).
    pub fn rows(
        self,
        db: DatabaseConnection,
        filter: DefectFilter,
        todays: Todays,
        form: Form,
    ) -> Rows {
        Rows {
            export: Arc::new(Export {
                db,
                viewer: self.viewer,
                filter,
                todays,
                labels: Spelling::new(form),
                names: tokio::sync::RwLock::new(None),
            }),
            next: Next::First,
        }
    }
}

enum Next {
    First,
    After(i32),
    Done,
}

/// An export's rows, read in keyset batches of [`BATCH`].
pub struct Rows {
    export: Arc<Export>,
    next: Next,
}

/// One batch of rows with the names and spellings to write them.
pub struct Batch {
    rows: Vec<Row>,
    names: Arc<Names>,
    export: Arc<Export>,
}

impl Rows {
    /// The header row in the export's form.
    pub fn header(&self) -> &[String] {
        &self.export.labels.header
    }

    /// How many rows the export has now (one `COUNT`; rows may come or go while it runs).
    pub async fn count(&self) -> AppResult<u64> {
        let e = &self.export;
        Ok(queries::visible_to(&e.viewer)
            .filter(e.filter.condition(&e.todays))
            .count(&e.db)
            .await?)
    }

    /// The next batch: the first is returned even when empty (a file still gets its
    /// header), then `None` after the last.
    pub async fn next_batch(&mut self) -> AppResult<Option<Batch>> {
        let (first, after) = match self.next {
            Next::First => (true, 0),
            Next::After(id) => (false, id),
            Next::Done => return Ok(None),
        };
        self.next = Next::Done;
        let rows = self.export.batch(after).await?;
        if rows.is_empty() && !first {
            return Ok(None);
        }
        if let Some(last) = rows.last()
            && rows.len() as u64 == BATCH
        {
            self.next = Next::After(last.id);
        }
        let names = self.export.names_for(&rows).await?;
        Ok(Some(Batch {
            rows,
            names,
            export: self.export.clone(),
        }))
    }
}

impl Batch {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Each row's cells, in [`COLUMNS`] order.
    pub fn each(&self, mut f: impl FnMut([Cell<'_>; 18])) {
        for row in &self.rows {
            f(row.cells(&self.names, &self.export.labels));
        }
    }

    /// The batch as CSV records appended to `out`, after the header row if `header`.
    pub fn csv(&self, out: Vec<u8>, header: bool) -> AppResult<Vec<u8>> {
        encode(out, header, &self.rows, &self.names, &self.export.labels)
    }
}

/// The CSV in chunks: the first holds the BOM (when asked for), the header and the
/// first batch; each later chunk one batch. A failed batch ends the stream with its error.
fn stream(rows: Rows, bom: bool) -> impl Stream<Item = AppResult<Vec<u8>>> + Send + 'static {
    stream::unfold(Some((rows, true)), move |state| async move {
        let (mut rows, first) = state?;
        let batch = match rows.next_batch().await {
            Ok(Some(batch)) => batch,
            Ok(None) => return None,
            Err(e) => return Some((Err(e), None)),
        };
        let mut out = Vec::new();
        if first && bom {
            out.extend_from_slice(BOM);
        }
        match batch.csv(out, first) {
            Ok(chunk) => Some((Ok(chunk), Some((rows, false)))),
            Err(e) => Some((Err(e), None)),
        }
    })
}
