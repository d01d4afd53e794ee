//! Encoding exported rows as CSV: the columns, the spellings, the names of ids.
use std::{borrow::Cow, collections::HashMap};

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Timelike, Utc};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, FromQueryResult, QueryResult, QuerySelect};

use crate::{
    entities::{
        enums::{DefectStatus, Priority},
        projects, stages, users,
    },
    error::{AppError, AppResult},
};

pub const COLUMNS: [&str; 13] = [
    "id",
    "project",
    "stage",
    "title",
    "description",
    "priority",
    "status",
    "performer",
    "author",
    "deadline",
    "created_at",
    "updated_at",
    "closed_at",
];

/// Lets Excel recognise the file as UTF-8 (Cyrillic titles) when asked for.
pub(super) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The CSV (and query parameter) spelling of a status, e.g. `in_progress`.
pub fn status_label(s: DefectStatus) -> &'static str {
    match s {
        DefectStatus::New => "new",
        DefectStatus::InProgress => "in_progress",
        DefectStatus::Review => "review",
        DefectStatus::Closed => "closed",
        DefectStatus::Cancelled => "cancelled",
    }
}

/// The CSV (and query parameter) spelling of a priority.
pub fn priority_label(p: Priority) -> &'static str {
    match p {
        Priority::Low => "low",
        Priority::Medium => "medium",
        Priority::High => "high",
    }
}

/// Spreadsheets evaluate a cell that starts with one of these as a formula (CSV
/// injection); a leading apostrophe makes them show the text as typed.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Room for the longest cell [`Digits`] writes: `2026-11-26T09:30:00.123456789Z`.
const DIGITS: usize = 32;

/// Numbers, dates and timestamps written into a fixed buffer, digit by digit: every row
/// has five of them, and formatting each into a new `String` through chrono's general
/// formatter was the largest cost of encoding a row (docs/BENCHMARKS.md). The output is
/// exactly chrono's (`to_rfc3339_opts(AutoSi, true)`, `NaiveDate`'s `Display`), which
/// the tests check; a year outside 0..=9999 or a leap second goes through chrono itself.
struct Digits {
    buf: [u8; DIGITS],
    len: usize,
}

impl Digits {
    fn new() -> Self {
        Digits {
            buf: [0; DIGITS],
            len: 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// `n` in exactly `width` digits, zero-padded (`n < 10^width`).
    fn fixed(&mut self, mut n: u32, width: usize) {
        for i in (0..width).rev() {
            self.buf[self.len + i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        self.len += width;
    }

    fn integer(n: i32) -> Self {
        let mut d = Digits::new();
        if n < 0 {
            d.push(b'-');
        }
        let mut v = n.unsigned_abs();
        let mut tmp = [0u8; 10];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for b in &tmp[i..] {
            d.push(*b);
        }
        d
    }

    /// `YYYY-MM-DD`; `None` for a year chrono would write otherwise.
    fn date(date: NaiveDate) -> Option<Self> {
        let year = u32::try_from(date.year()).ok().filter(|y| *y <= 9999)?;
        let mut d = Digits::new();
        d.fixed(year, 4);
        d.push(b'-');
        d.fixed(date.month(), 2);
        d.push(b'-');
        d.fixed(date.day(), 2);
        Some(d)
    }

    /// RFC 3339 in UTC with `Z`, and as many sub-second digits (0, 3, 6 or 9) as needed.
    fn timestamp(t: DateTime<Utc>) -> Option<Self> {
        let mut d = Digits::date(t.date_naive())?;
        let nanos = t.nanosecond();
        if nanos >= 1_000_000_000 {
            return None;
        }
        d.push(b'T');
        d.fixed(t.hour(), 2);
        d.push(b':');
        d.fixed(t.minute(), 2);
        d.push(b':');
        d.fixed(t.second(), 2);
        if nanos != 0 {
            d.push(b'.');
            if nanos % 1_000_000 == 0 {
                d.fixed(nanos / 1_000_000, 3);
            } else if nanos % 1_000 == 0 {
                d.fixed(nanos / 1_000, 6);
            } else {
                d.fixed(nanos, 9);
            }
        }
        d.push(b'Z');
        Some(d)
    }
}

/// A cell as bytes: borrowed text, or digits written on the stack.
enum Cell<'a> {
    Text(&'a str),
    Digits(Digits),
    Owned(String),
}

impl Cell<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Cell::Text(s) => s.as_bytes(),
            Cell::Digits(d) => d.bytes(),
            Cell::Owned(s) => s.as_bytes(),
        }
    }
}

fn timestamp<'a>(t: DateTime<Utc>) -> Cell<'a> {
    Digits::timestamp(t).map_or_else(
        || Cell::Owned(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        Cell::Digits,
    )
}

fn date<'a>(d: NaiveDate) -> Cell<'a> {
    Digits::date(d).map_or_else(|| Cell::Owned(d.to_string()), Cell::Digits)
}

/// One defect as read: projects, stages and users by id, named from [`Names`].
#[derive(Debug)]
pub(super) struct Row {
    pub(super) id: i32,
    project_id: i32,
    stage_id: Option<i32>,
    title: String,
    description: String,
    priority: Priority,
    status: DefectStatus,
    performer_id: Option<i32>,
    author_id: i32,
    deadline: Option<NaiveDate>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
}

/// By position, in the order of [`super::ROW_COLUMNS`] (what the batch selects): a
/// lookup by name per cell was a measurable share of reading a row.
impl FromQueryResult for Row {
    fn from_query_result(res: &QueryResult, _pre: &str) -> Result<Self, DbErr> {
        Ok(Row {
            id: res.try_get_by_index(0)?,
            project_id: res.try_get_by_index(1)?,
            stage_id: res.try_get_by_index(2)?,
            title: res.try_get_by_index(3)?,
            description: res.try_get_by_index(4)?,
            priority: res.try_get_by_index(5)?,
            status: res.try_get_by_index(6)?,
            performer_id: res.try_get_by_index(7)?,
            author_id: res.try_get_by_index(8)?,
            deadline: res.try_get_by_index(9)?,
            created_at: res.try_get_by_index(10)?,
            updated_at: res.try_get_by_index(11)?,
            closed_at: res.try_get_by_index(12)?,
        })
    }
}

/// Project titles, stage titles and usernames by id, read once per export instead of
/// joined into every row (measured at a million rows: the joins were a fifth of the
/// database time). They are small next to the defects; memory grows with them, not with
/// the rows exported.
#[derive(Default)]
pub(super) struct Names {
    projects: HashMap<i32, String>,
    stages: HashMap<i32, String>,
    users: HashMap<i32, String>,
}

impl Names {
    pub(super) async fn load(db: &DatabaseConnection) -> AppResult<Self> {
        let (projects, stages, users) = tokio::try_join!(
            projects::Entity::find()
                .select_only()
                .columns([projects::Column::Id, projects::Column::Title])
                .into_tuple::<(i32, String)>()
                .all(db),
            stages::Entity::find()
                .select_only()
                .columns([stages::Column::Id, stages::Column::Title])
                .into_tuple::<(i32, String)>()
                .all(db),
            users::Entity::find()
                .select_only()
                .columns([users::Column::Id, users::Column::Username])
                .into_tuple::<(i32, String)>()
                .all(db),
        )?;
        Ok(Names {
            projects: projects.into_iter().collect(),
            stages: stages.into_iter().collect(),
            users: users.into_iter().collect(),
        })
    }

    /// Whether every id the rows name is known (one created during the export may not be).
    pub(super) fn cover(&self, rows: &[Row]) -> bool {
        rows.iter().all(|r| {
            self.projects.contains_key(&r.project_id)
                && r.stage_id.is_none_or(|s| self.stages.contains_key(&s))
                && r.performer_id.is_none_or(|u| self.users.contains_key(&u))
                && self.users.contains_key(&r.author_id)
        })
    }
}

fn name(map: &HashMap<i32, String>, id: Option<i32>) -> &str {
    id.and_then(|i| map.get(&i)).map_or("", String::as_str)
}

impl Row {
    /// In [`COLUMNS`] order; an empty cell for none. Text is borrowed, not copied.
    fn cells<'a>(&'a self, names: &'a Names) -> [Cell<'a>; 13] {
        let none = || Cell::Text("");
        [
            Cell::Digits(Digits::integer(self.id)),
            Cell::Text(name(&names.projects, Some(self.project_id))),
            Cell::Text(name(&names.stages, self.stage_id)),
            Cell::Text(&self.title),
            Cell::Text(&self.description),
            Cell::Text(priority_label(self.priority)),
            Cell::Text(status_label(self.status)),
            Cell::Text(name(&names.users, self.performer_id)),
            Cell::Text(name(&names.users, Some(self.author_id))),
            self.deadline.map_or_else(none, date),
            timestamp(self.created_at),
            timestamp(self.updated_at),
            self.closed_at.map_or_else(none, timestamp),
        ]
    }
}

/// Appends RFC 4180 records (CRLF, quoted where needed) to `out`.
pub(super) fn encode(
    out: Vec<u8>,
    header: bool,
    rows: &[Row],
    names: &Names,
) -> AppResult<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    if header {
        w.write_record(COLUMNS).map_err(AppError::internal)?;
    }
    for row in rows {
        for cell in row.cells(names) {
            let bytes = cell.bytes();
            if bytes.starts_with(b"=")
                || bytes.starts_with(b"+")
                || bytes.starts_with(b"-")
                || bytes.starts_with(b"@")
                || bytes.starts_with(b"\t")
                || bytes.starts_with(b"\r")
            {
                // As `neutralise`: the rare cell a spreadsheet would read as a formula.
                let mut quoted = Vec::with_capacity(bytes.len() + 1);
                quoted.push(b'\'');
                quoted.extend_from_slice(bytes);
                w.write_field(&quoted).map_err(AppError::internal)?;
            } else {
                w.write_field(bytes).map_err(AppError::internal)?;
            }
        }
        w.write_record(None::<&[u8]>).map_err(AppError::internal)?;
    }
    w.into_inner()
        .map_err(|e| AppError::internal(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formula_prefixes_are_neutralised_and_nothing_else() {
        for bad in ["=SUM(A1)", "+1", "-1", "@x", "\tx", "\rx"] {
            assert_eq!(neutralise(bad), format!("'{bad}"), "{bad:?}");
        }
        for fine in ["", "Трещина", "1+1", "a=b", "'quoted", " =x"] {
            assert_eq!(neutralise(fine), fine, "{fine:?}");
        }
    }

    fn row(title: &str) -> Row {
        let t = Utc.with_ymd_and_hms(2026, 11, 26, 9, 30, 0).unwrap();
        Row {
            id: 7,
            project_id: 1,
            stage_id: None,
            title: title.into(),
            description: "line 1\nline 2".into(),
            priority: Priority::High,
            status: DefectStatus::InProgress,
            performer_id: None,
            author_id: 2,
            deadline: NaiveDate::from_ymd_opt(2026, 12, 1),
            created_at: t,
            updated_at: t + chrono::Duration::microseconds(1500),
            closed_at: None,
        }
    }

    fn names() -> Names {
        Names {
            projects: HashMap::from([(1, "Башня".to_owned())]),
            stages: HashMap::new(),
            users: HashMap::from([(2, "manager".to_owned())]),
        }
    }

    #[test]
    fn names_cover_only_known_ids() {
        let mut r = row("x");
        assert!(names().cover(std::slice::from_ref(&r)));
        r.performer_id = Some(99);
        assert!(!names().cover(&[r]), "a user created during the export");
    }

    #[test]
    fn records_follow_rfc_4180_with_lower_case_enums_and_utc_timestamps() {
        let out = encode(Vec::new(), true, &[row("a, \"b\"")], &names()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "id,project,stage,title,description,priority,status,performer,author,deadline,created_at,updated_at,closed_at\r\n\
             7,Башня,,\"a, \"\"b\"\"\",\"line 1\nline 2\",high,in_progress,,manager,2026-12-01,\
             2026-11-26T09:30:00Z,2026-11-26T09:30:00.001500Z,\r\n"
        );
        let out = encode(Vec::new(), false, &[row("=cmd")], &names()).unwrap();
        assert!(
            String::from_utf8(out)
                .unwrap()
                .starts_with("7,Башня,,'=cmd,")
        );
    }

    #[test]
    fn digits_match_chrono_and_std() {
        for n in [0, 7, 10, 99, 12345, i32::MAX, -1, i32::MIN] {
            assert_eq!(Digits::integer(n).bytes(), n.to_string().as_bytes());
        }
        let base = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let offsets_ns = [
            0i64,
            1,
            999,
            1_000,
            1_500_000,
            120_000_000,
            999_999_999,
            86_399_999_999_999,
            -3_000_000_000_000_000,
        ];
        for ns in offsets_ns {
            let t = base + chrono::Duration::nanoseconds(ns);
            let want = t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
            assert_eq!(timestamp(t).bytes(), want.as_bytes(), "{want}");
            let d = t.date_naive();
            assert_eq!(date(d).bytes(), d.to_string().as_bytes());
        }
        // Outside what the fast path writes: chrono's own spelling.
        let far = NaiveDate::from_ymd_opt(12026, 5, 6).unwrap();
        assert_eq!(date(far).bytes(), far.to_string().as_bytes());
        let ancient = NaiveDate::from_ymd_opt(-5, 5, 6).unwrap();
        assert_eq!(date(ancient).bytes(), ancient.to_string().as_bytes());
        let t = far.and_hms_opt(1, 2, 3).unwrap().and_utc();
        assert_eq!(
            timestamp(t).bytes(),
            t.to_rfc3339_opts(SecondsFormat::AutoSi, true).as_bytes()
        );
    }

    #[test]
    fn a_negative_year_is_neutralised_like_any_cell() {
        let mut r = row("x");
        r.deadline = NaiveDate::from_ymd_opt(-5, 5, 6);
        let out = String::from_utf8(encode(Vec::new(), false, &[r], &names()).unwrap()).unwrap();
        assert!(out.contains(",'-0005-05-06,"), "{out}");
    }

    #[test]
    fn labels_cover_every_value() {
        use sea_orm::Iterable;
        let s: Vec<_> = DefectStatus::iter().map(status_label).collect();
        assert_eq!(s, ["new", "in_progress", "review", "closed", "cancelled"]);
        let p: Vec<_> = Priority::iter().map(priority_label).collect();
        assert_eq!(p, ["low", "medium", "high"]);
    }
}
