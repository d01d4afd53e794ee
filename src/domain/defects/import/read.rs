//! An uploaded file as a table of text cells: a CSV in either form of the export or the
//! first sheet of an XLSX, with every size bounded before it is spent. Header names come
//! from the export (`reports::export::column_named`), in any of its forms.
use std::{
    collections::BTreeMap,
    io::{Cursor, Read},
};

use calamine::{DataRef, DataType, Reader, Xlsx};

use crate::{
    domain::reports::export::{column_named, restore},
    error::{AppError, AppResult},
    i18n::Msg,
};

/// Data rows per file (FIELD.md).
pub const MAX_ROWS: usize = 5_000;
/// What an XLSX may unpack to, all entries together: a 5,000-row export is a few MB.
pub const MAX_UNPACKED_BYTES: u64 = 32 * 1024 * 1024;
/// Entries in an XLSX's zip (an export has about a dozen).
pub const MAX_ENTRIES: usize = 1_000;
/// Columns read from a sheet; the export has 18, anything to the right is ignored.
const MAX_COLUMNS: u32 = 64;

/// The header's machine column names by position (`None`: a column the import does not
/// know) and the data rows, each with its number (1 = the first row after the header).
pub struct Sheet {
    pub columns: Vec<Option<&'static str>>,
    pub rows: Vec<(usize, Vec<String>)>,
}

impl Sheet {
    /// The text of `column` in `cells`, trimmed, with the export's formula guard undone
    /// (`'=…` back to `=…`); empty when the column is absent.
    pub fn cell<'a>(&self, cells: &'a [String], column: &str) -> &'a str {
        restore(self.raw(cells, column).trim())
    }

    /// The cell as written (a description keeps its spaces and line breaks), the
    /// export's formula guard undone.
    pub fn raw<'a>(&self, cells: &'a [String], column: &str) -> &'a str {
        self.columns
            .iter()
            .position(|c| *c == Some(column))
            .and_then(|i| cells.get(i))
            .map_or("", |c| restore(c))
    }
}

fn unreadable() -> AppError {
    AppError::BadUserInput(Msg::ImportUnreadable {
        field: "file".into(),
    })
}

fn too_large() -> AppError {
    AppError::BadUserInput(Msg::ImportUnpacksTooLarge {
        field: "file".into(),
    })
}

fn too_many_rows() -> AppError {
    AppError::BadUserInput(Msg::ImportTooManyRows {
        field: "file".into(),
        max: MAX_ROWS,
    })
}

/// The table in `bytes`: an XLSX when it is a zip, else a CSV.
pub fn read(bytes: &[u8]) -> AppResult<Sheet> {
    if bytes.starts_with(b"PK\x03\x04") {
        xlsx(bytes)
    } else {
        csv(bytes)
    }
}

/// Makes the sheet from its rows in order, the first non-blank one the header.
fn sheet(rows: impl IntoIterator<Item = (usize, Vec<String>)>) -> AppResult<Sheet> {
    let mut rows = rows
        .into_iter()
        .filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()));
    let Some((header_at, header)) = rows.next() else {
        return Err(no_title());
    };
    let mut columns: Vec<Option<&'static str>> = Vec::new();
    for h in &header {
        let c = column_named(h).filter(|c| !columns.contains(&Some(*c)));
        columns.push(c);
    }
    if !columns.contains(&Some("title")) {
        return Err(no_title());
    }
    let mut out = Vec::new();
    for (at, cells) in rows {
        if out.len() == MAX_ROWS {
            return Err(too_many_rows());
        }
        out.push((at - header_at, cells));
    }
    Ok(Sheet { columns, rows: out })
}

fn no_title() -> AppError {
    AppError::BadUserInput(Msg::ImportNoTitle {
        field: "file".into(),
    })
}

/// UTF-8 with or without a BOM, `,` or `;` (whichever the header line has more of).
/// Rows are records: a quoted cell may span lines, and an empty line is none.
fn csv(bytes: &[u8]) -> AppResult<Sheet> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| unreadable())?;
    let first = text.lines().next().unwrap_or("");
    let count = |c| first.matches(c).count();
    let delimiter = if count(';') > count(',') { b';' } else { b',' };
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    // One past the limit (and the header) is enough to refuse; the rest is not read.
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|_| unreadable())?;
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        rows.push((i, record.iter().map(str::to_owned).collect()));
        if rows.len() > MAX_ROWS + 1 {
            break;
        }
    }
    sheet(rows)
}

/// Refuses a zip that would unpack beyond [`MAX_UNPACKED_BYTES`] or has more than
/// [`MAX_ENTRIES`] entries, from its central directory (what each entry declares), and
/// then by inflating each entry into nothing, stopping one byte past what it declared: a
/// declared size is the sender's word (the zip reader stops at it, and an entry that
/// inflates further then fails its checksum), so a lie is refused here, before calamine
/// reads anything.
fn check_zip(bytes: &[u8]) -> AppResult<()> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| unreadable())?;
    if zip.len() > MAX_ENTRIES {
        return Err(too_large());
    }
    let mut declared = 0u64;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|_| unreadable())?;
        declared = declared.saturating_add(entry.size());
    }
    if declared > MAX_UNPACKED_BYTES {
        return Err(too_large());
    }
    for i in 0..zip.len() {
        let entry = zip.by_index(i).map_err(|_| unreadable())?;
        let size = entry.size();
        let read = std::io::copy(&mut entry.take(size + 1), &mut std::io::sink())
            .map_err(|_| unreadable())?;
        if read > size {
            return Err(too_large());
        }
    }
    Ok(())
}

/// A cell as the import reads it: a formula as its text (`=…`, never its value), a
/// date as `YYYY-MM-DD`, numbers and text as written.
fn text(value: &DataRef<'_>, formula: Option<String>) -> String {
    if let Some(f) = formula.filter(|f| !f.is_empty()) {
        return if f.starts_with('=') {
            f
        } else {
            format!("={f}")
        };
    }
    match value {
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Float(f) => f.to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(_) => value.as_date().map(|d| d.to_string()).unwrap_or_default(),
        DataRef::Error(_) | DataRef::Empty => String::new(),
    }
}

/// The first sheet, read cell by cell (a sheet's declared dimensions allocate nothing
/// here), after [`check_zip`].
fn xlsx(bytes: &[u8]) -> AppResult<Sheet> {
    check_zip(bytes)?;
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|_: calamine::XlsxError| unreadable())?;
    let name = book.sheet_names().first().cloned().ok_or_else(unreadable)?;
    let mut cells = book
        .worksheet_cells_reader(&name)
        .map_err(|_| unreadable())?;
    let mut rows: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    while let Some(cell) = cells.next_cell_with_formula().map_err(|_| unreadable())? {
        let (row, col) = cell.pos;
        if col >= MAX_COLUMNS {
            continue;
        }
        let value = text(&cell.value, cell.formula);
        if value.trim().is_empty() {
            continue;
        }
        if !rows.contains_key(&row) && rows.len() > MAX_ROWS + 1 {
            return Err(too_many_rows());
        }
        let cells = rows.entry(row).or_default();
        let col = col as usize;
        if cells.len() <= col {
            cells.resize(col + 1, String::new());
        }
        cells[col] = value;
    }
    sheet(rows.into_iter().map(|(r, c)| (r as usize, c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_csv_forms_are_read() {
        let machine = "title,priority,colour\r\nA,high,red\r\n\r\nB,,\r\n";
        let s = read(machine.as_bytes()).unwrap();
        assert_eq!(s.columns, [Some("title"), Some("priority"), None]);
        assert_eq!(s.rows.len(), 2);
        // An empty line is no record (a line of empty cells is one, and is skipped).
        assert_eq!((s.rows[1].0, s.cell(&s.rows[1].1, "title")), (2, "B"));
        let human = "\u{FEFF}Название;Приоритет\r\n'=1+2;Высокий\r\n";
        let s = read(human.as_bytes()).unwrap();
        assert_eq!(s.cell(&s.rows[0].1, "title"), "=1+2");
        assert_eq!(s.cell(&s.rows[0].1, "priority"), "Высокий");
    }

    /// A zip whose one entry declares (in its local and central headers) 100 bytes and
    /// inflates to 1 MiB: the lie is caught by inflating it, not trusted.
    #[test]
    fn a_zip_that_lies_about_its_sizes_is_refused() {
        use std::io::Write;
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("xl/worksheets/sheet1.xml", options).unwrap();
        zip.write_all(&vec![b'a'; 1 << 20]).unwrap();
        zip.finish().unwrap();
        let mut bytes = out.into_inner();
        let find = |bytes: &[u8], sig: &[u8]| bytes.windows(4).position(|w| w == sig).unwrap();
        let local = find(&bytes, b"PK\x03\x04");
        bytes[local + 22..local + 26].copy_from_slice(&100u32.to_le_bytes());
        let central = find(&bytes, b"PK\x01\x02");
        bytes[central + 24..central + 28].copy_from_slice(&100u32.to_le_bytes());
        // The zip reader stops at the declared size and the checksum then fails: refused
        // as unreadable before calamine reads anything.
        assert!(matches!(
            check_zip(&bytes),
            Err(AppError::BadUserInput(Msg::ImportUnreadable { .. }))
        ));
        assert!(matches!(read(&bytes), Err(AppError::BadUserInput(_))));
    }

    #[test]
    fn a_header_without_title_and_too_many_rows_are_refused() {
        assert!(matches!(
            read(b"description\nx\n"),
            Err(AppError::BadUserInput(Msg::ImportNoTitle { .. }))
        ));
        let mut big = String::from("title\n");
        for i in 0..=MAX_ROWS {
            big.push_str(&format!("t{i}\n"));
        }
        assert!(matches!(
            read(big.as_bytes()),
            Err(AppError::BadUserInput(Msg::ImportTooManyRows { .. }))
        ));
        assert!(matches!(read(b"\xff\xfe"), Err(AppError::BadUserInput(_))));
    }
}
