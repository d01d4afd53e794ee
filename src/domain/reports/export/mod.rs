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
use sea_orm::{ColumnTrait, DatabaseConnection, QueryFilter, QueryOrder, QuerySelect};

use self::csv::{BOM, Names, Row, Spelling, encode};
pub use self::csv::{
    COLUMNS, Form, column_named, neutralise, priority_label, priority_named, restore, status_label,
};
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
    bom: bool,
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
        stream(db, self.viewer, filter, todays, form, bom)
    }
}

enum Next {
    First,
    After(i32),
    Done,
}

/// The CSV in chunks: the first holds the BOM (when asked for), the header and the
/// first batch; each later chunk one batch. A failed batch ends the stream with its error.
fn stream(
    db: DatabaseConnection,
    viewer: Viewer,
    filter: DefectFilter,
    todays: Todays,
    form: Form,
    bom: bool,
) -> impl Stream<Item = AppResult<Vec<u8>>> + Send + 'static {
    let export = Arc::new(Export {
        db,
        viewer,
        filter,
        todays,
        bom,
        labels: Spelling::new(form),
        names: tokio::sync::RwLock::new(None),
    });
    stream::unfold(Next::First, move |next| {
        let export = export.clone();
        async move {
            let (first, after) = match next {
                Next::First => (true, 0),
                Next::After(id) => (false, id),
                Next::Done => return None,
            };
            let rows = match export.batch(after).await {
                Ok(rows) if rows.is_empty() && !first => return None,
                Ok(rows) => rows,
                Err(e) => return Some((Err(e), Next::Done)),
            };
            let following = match rows.last() {
                Some(last) if rows.len() as u64 == BATCH => Next::After(last.id),
                _ => Next::Done,
            };
            let mut out = Vec::new();
            if first && export.bom {
                out.extend_from_slice(BOM);
            }
            let names = match export.names_for(&rows).await {
                Ok(names) => names,
                Err(e) => return Some((Err(e), Next::Done)),
            };
            match encode(out, first, &rows, &names, &export.labels) {
                Ok(chunk) => Some((Ok(chunk), following)),
                Err(e) => Some((Err(e), Next::Done)),
            }
        }
    })
}
