//! The export as an XLSX sheet (FIELD.md "Handover documents"): the CSV export's rows,
//! columns and forms ([`export::Rows`]), typed — numbers as numbers, dates and
//! timestamps as spreadsheet dates with a number format — under a bold, frozen header
//! row with an autofilter.
//!
//! Memory stays flat: `rust_xlsxwriter`'s constant-memory worksheet writes each row to
//! a temporary file as it comes (only the current row is held), and the workbook is
//! then zipped into `out`, itself a file. Rows are read batch by batch on the async
//! side and written on a blocking thread, one batch in flight between the two.
use std::{fs::File, io::Seek};

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use tokio::sync::mpsc;

use crate::{
    domain::reports::export::{Batch, COLUMNS, Cell, Rows},
    error::{AppError, AppResult},
    i18n::Msg,
};

/// Excel's limit, less the header row.
pub const MAX_ROWS: u64 = 1_048_575;

/// Column widths in characters, in [`COLUMNS`] order (title, description wider).
const WIDTHS: [f64; 18] = [
    10.0, 8.0, 24.0, 16.0, 40.0, 60.0, 10.0, 12.0, 16.0, 16.0, 12.0, 20.0, 20.0, 20.0, 20.0, 8.0,
    8.0, 20.0,
];

fn internal(e: XlsxError) -> AppError {
    AppError::internal(e)
}

struct Formats {
    bold: Format,
    date: Format,
    time: Format,
}

fn start(header: &[String], formats: &Formats) -> Result<(Workbook, u64), XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet_with_constant_memory()?;
    sheet.set_name("defects")?;
    sheet.set_freeze_panes(1, 0)?;
    for (c, width) in WIDTHS.iter().enumerate() {
        sheet.set_column_width(c as u16, *width)?;
    }
    for (c, h) in header.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, h, &formats.bold)?;
    }
    Ok((book, 0))
}

fn put(sheet: &mut Worksheet, row: u32, cells: &[Cell<'_>], f: &Formats) -> Result<(), XlsxError> {
    for (c, cell) in cells.iter().enumerate() {
        let c = c as u16;
        match cell {
            Cell::Empty => {}
            Cell::Text(t) => {
                sheet.write_string(row, c, t.as_ref())?;
            }
            Cell::Int(n) => {
                // Ids are far below 2^53: exact as an Excel number.
                sheet.write_number(row, c, *n as f64)?;
            }
            Cell::Number(v) => {
                sheet.write_number(row, c, *v)?;
            }
            Cell::Date(d) => {
                sheet.write_date_with_format(row, c, d, &f.date)?;
            }
            Cell::Time(t) => {
                // A spreadsheet date has no zone: the instant in UTC, as in the CSV.
                sheet.write_datetime_with_format(row, c, t.naive_utc(), &f.time)?;
            }
        }
    }
    Ok(())
}

/// Writes the batches from `rx` under `header` into `out` (rewound); returns the rows.
fn write_blocking(
    header: Vec<String>,
    mut rx: mpsc::Receiver<Batch>,
    mut out: File,
) -> AppResult<(File, u64)> {
    let formats = Formats {
        bold: Format::new().set_bold(),
        date: Format::new().set_num_format("yyyy-mm-dd"),
        time: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
    };
    let (mut book, mut rows) = start(&header, &formats).map_err(internal)?;
    let sheet = book.worksheet_from_index(0).map_err(internal)?;
    while let Some(batch) = rx.blocking_recv() {
        if rows + batch.len() as u64 > MAX_ROWS {
            return Err(AppError::BadUserInput(Msg::SheetTooLong { max: MAX_ROWS }));
        }
        let mut failed = None;
        batch.each(|cells| {
            if failed.is_none() {
                rows += 1;
                // Below MAX_ROWS + 1, checked above.
                let r = u32::try_from(rows).unwrap_or(u32::MAX);
                failed = put(sheet, r, &cells, &formats).err();
            }
        });
        if let Some(e) = failed {
            return Err(internal(e));
        }
    }
    let last = u32::try_from(rows).unwrap_or(u32::MAX);
    sheet
        .autofilter(0, 0, last, (COLUMNS.len() - 1) as u16)
        .map_err(internal)?;
    book.save_to_writer(&mut out).map_err(internal)?;
    out.rewind().map_err(AppError::internal)?;
    Ok((out, rows))
}

/// The sheet of `rows` written into `out` (a file, rewound when returned) with the
/// number of rows; `done(n)` is told the rows handed to the writer so far.
pub async fn write(
    mut rows: Rows,
    out: File,
    done: &(dyn Fn(u64) + Send + Sync),
) -> AppResult<(File, u64)> {
    let (tx, rx) = mpsc::channel::<Batch>(1);
    let header = rows.header().to_vec();
    let writer = tokio::task::spawn_blocking(move || write_blocking(header, rx, out));
    let mut fed = 0u64;
    let read = async {
        while let Some(batch) = rows.next_batch().await? {
            fed += batch.len() as u64;
            if tx.send(batch).await.is_err() {
                break; // the writer stopped: its error is the one to report
            }
            done(fed);
        }
        drop(tx);
        AppResult::Ok(())
    };
    let read = read.await;
    let written = writer.await.map_err(AppError::internal)?;
    read?;
    written
}

/// [`write`] into an anonymous temporary file (removed when the last handle closes).
pub async fn to_tempfile(rows: Rows) -> AppResult<(File, u64)> {
    let out = tempfile::tempfile().map_err(AppError::internal)?;
    write(rows, out, &|_| {}).await
}
