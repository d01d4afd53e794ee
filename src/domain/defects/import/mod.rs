//! The import (FIELD.md "Import"): a CSV in either form of the export or an XLSX laid
//! out like it, each row checked by the create rules (`creation::check`) and created
//! by the create path (`creation::insert`): all in one transaction (`atomic`, numbered
//! in row order), or each good row in its own, or nothing (`dry_run`).
mod read;
mod rows;

pub use read::{MAX_ENTRIES, MAX_ROWS, MAX_UNPACKED_BYTES};

use sea_orm::{DatabaseConnection, TransactionTrait};

use super::{
    creation::{self, Checked},
    policy,
};
use crate::{
    auth::Viewer,
    domain::require,
    entities::defects,
    error::{AppError, AppResult},
    i18n::Msg,
};

pub struct Options {
    pub dry_run: bool,
    pub atomic: bool,
}

/// A refused row: the error and the column it is about (the export's machine name).
pub struct Refusal {
    pub field: Option<String>,
    pub error: AppError,
}

pub struct RowResult {
    /// 1 = the first row after the header.
    pub row: usize,
    /// `Ok(None)`: the row passed, and nothing was written (a dry run, or an atomic
    /// import that refused another row).
    pub outcome: Result<Option<defects::Model>, Refusal>,
}

pub struct Report {
    pub dry_run: bool,
    pub created: usize,
    pub failed: usize,
    pub rows: Vec<RowResult>,
}

fn refusal(error: AppError) -> Refusal {
    let field = error
        .msg()
        .args()
        .into_iter()
        .find(|(name, _)| *name == "field")
        .map(|(_, f)| rows::column_of(&f).to_owned());
    Refusal { field, error }
}

/// Reads `file` and creates its rows as NEW defects of `project_id`. Admins and
/// managers; a file over `max_bytes` is PAYLOAD_TOO_LARGE, one that is not a table with
/// a title column or has more than [`MAX_ROWS`] rows is BAD_USER_INPUT naming `file`.
pub async fn import(
    db: &DatabaseConnection,
    viewer: &Viewer,
    max_bytes: u64,
    project_id: i32,
    file: Vec<u8>,
    options: Options,
) -> AppResult<Report> {
    require(policy::can_import(viewer), Msg::OnlyManagersImport)?;
    if file.len() as u64 > max_bytes {
        return Err(AppError::PayloadTooLarge(Msg::FileTooLarge {
            limit: max_bytes,
        }));
    }
    let gate = creation::gate(db, viewer, project_id, true).await?;
    // Parsing is CPU work of up to MAX_UPLOAD_BYTES: off the async workers.
    let sheet = tokio::task::spawn_blocking(move || read::read(&file))
        .await
        .map_err(AppError::internal)??;
    let names = rows::Names::load(db, gate.project_id(), &sheet).await?;
    let mut results = Vec::with_capacity(sheet.rows.len());
    let mut good: Vec<(usize, Checked)> = Vec::new();
    for (row, cells) in &sheet.rows {
        let checked = match rows::parse(&sheet, cells, &names, gate.project_id()) {
            Ok(input) => creation::check(db, &gate, input).await,
            Err(e) => Err(e),
        };
        match checked {
            Ok(c) => good.push((results.len(), c)),
            Err(e) => {
                if matches!(e, AppError::Internal(_)) {
                    return Err(e);
                }
                results.push(RowResult {
                    row: *row,
                    outcome: Err(refusal(e)),
                });
                continue;
            }
        }
        results.push(RowResult {
            row: *row,
            outcome: Ok(None),
        });
    }
    let failed = results.len() - good.len();
    let mut report = Report {
        dry_run: options.dry_run,
        created: 0,
        failed,
        rows: results,
    };
    if options.dry_run || (options.atomic && failed > 0) {
        return Ok(report);
    }
    if options.atomic {
        let txn = db.begin().await?;
        let mut created = Vec::with_capacity(good.len());
        for (at, c) in good {
            created.push((at, creation::insert(&txn, viewer, c).await?));
        }
        txn.commit().await?;
        for (at, d) in created {
            report.rows[at].outcome = Ok(Some(d));
            report.created += 1;
        }
        return Ok(report);
    }
    for (at, c) in good {
        let txn = db.begin().await?;
        let done = match creation::insert(&txn, viewer, c).await {
            Ok(d) => txn.commit().await.map(|_| d).map_err(AppError::from),
            Err(e) => Err(e),
        };
        match done {
            Ok(d) => {
                report.rows[at].outcome = Ok(Some(d));
                report.created += 1;
            }
            Err(e) => {
                report.rows[at].outcome = Err(refusal(e));
                report.failed += 1;
            }
        }
    }
    Ok(report)
}
