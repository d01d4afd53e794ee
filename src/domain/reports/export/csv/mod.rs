//! Encoding exported rows as CSV: the columns, the spellings, the names of ids.
use std::{borrow::Cow, collections::HashMap};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sea_orm::{DatabaseConnection, EntityTrait, FromQueryResult, QuerySelect};

use crate::{
    domain::defects::keys,
    entities::{
        enums::{DefectStatus, Priority},
        plans, projects, stages, users,
    },
    error::{AppError, AppResult},
    i18n::{self, Lang},
};

pub const COLUMNS: [&str; 18] = [
    "key",
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
    "plan",
    "x",
    "y",
    "location",
];

/// Which CSV to write. The machine form is the default whatever the request's language,
/// so a script or a frontend's `fetch()` (which sends the browser's `Accept-Language`)
/// always parses one shape; the human form is asked for by name (`?lang=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Form {
    /// [`COLUMNS`], the enum spellings of [`status_label`] and [`priority_label`], `,`.
    #[default]
    Machine,
    /// For a spreadsheet: the header row and enum values of `locales/<lang>/export.ftl`.
    Human(Lang),
}

impl Form {
    /// A Russian-locale Excel splits a CSV it opens at its list separator, `;` (the
    /// comma is that locale's decimal mark); `,` everywhere else.
    pub fn delimiter(self) -> u8 {
        match self {
            Form::Human(Lang::Ru) => b';',
            _ => b',',
        }
    }

    /// Whether the file starts with a [`BOM`] unless `bom=` says otherwise: the Russian
    /// form's, since Excel reads a CSV without one in the system's code page and the
    /// Cyrillic header would be garbled.
    pub fn bom_by_default(self) -> bool {
        matches!(self, Form::Human(Lang::Ru))
    }
}

/// How one export spells its header row and enum values and separates its cells, made
/// once per export from its [`Form`]. Query parameters keep the machine spellings
/// whatever the form.
pub(super) struct Spelling {
    delimiter: u8,
    pub(super) header: Vec<String>,
    statuses: HashMap<DefectStatus, String>,
    priorities: HashMap<Priority, String>,
}

impl Spelling {
    pub(super) fn new(form: Form) -> Self {
        use sea_orm::Iterable;
        let text = |id: String, machine: &str| match form {
            Form::Machine => machine.to_owned(),
            Form::Human(lang) => i18n::text(lang, &id, &[]),
        };
        Spelling {
            delimiter: form.delimiter(),
            header: COLUMNS
                .iter()
                .map(|c| text(format!("csv-{c}"), c))
                .collect(),
            statuses: DefectStatus::iter()
                .map(|s| {
                    (
                        s,
                        text(format!("status-{}", status_label(s)), status_label(s)),
                    )
                })
                .collect(),
            priorities: Priority::iter()
                .map(|p| {
                    let machine = priority_label(p);
                    (p, text(format!("priority-{machine}"), machine))
                })
                .collect(),
        }
    }

    fn status(&self, s: DefectStatus) -> &str {
        self.statuses.get(&s).map_or("", String::as_str)
    }

    fn priority(&self, p: Priority) -> &str {
        self.priorities.get(&p).map_or("", String::as_str)
    }
}

/// Lets Excel recognise the file as UTF-8 (Cyrillic titles).
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

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

const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell as it was before [`neutralise`]: the import reads an exported file back.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

/// The machine name ([`COLUMNS`]) of the column headed `header` in any form of the
/// export: the machine name or the human header in any language, case and surrounding
/// spaces aside. The import reads both forms with this.
pub fn column_named(header: &str) -> Option<&'static str> {
    let h = header.trim().to_lowercase();
    COLUMNS.iter().copied().find(|c| {
        *c == h
            || Lang::ALL
                .iter()
                .any(|l| i18n::text(*l, &format!("csv-{c}"), &[]).to_lowercase() == h)
    })
}

/// The priority spelled `label` in any form of the export (`high`, `HIGH`, `Высокий`).
pub fn priority_named(label: &str) -> Option<Priority> {
    use sea_orm::Iterable;
    let l = label.trim().to_lowercase();
    Priority::iter().find(|p| {
        let machine = priority_label(*p);
        machine == l
            || Lang::ALL.iter().any(|lang| {
                i18n::text(*lang, &format!("priority-{machine}"), &[]).to_lowercase() == l
            })
    })
}

/// Spreadsheets evaluate a cell that starts with one of these as a formula (CSV
/// injection); a leading apostrophe makes them show the text as typed.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// One defect as read: projects, stages and users by id, named from [`Names`].
#[derive(Debug, FromQueryResult)]
pub(super) struct Row {
    pub(super) id: i32,
    project_id: i32,
    number: i32,
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
    plan_id: Option<i32>,
    location_x: Option<f64>,
    location_y: Option<f64>,
    location_label: Option<String>,
}

/// Project titles, stage titles and usernames by id, read once per export instead of
/// joined into every row (measured at a million rows: the joins were a fifth of the
/// database time). They are small next to the defects; memory grows with them, not with
/// the rows exported.
#[derive(Default)]
pub(super) struct Names {
    projects: HashMap<i32, String>,
    /// Project codes, for keys (a project without a code has none here).
    codes: HashMap<i32, String>,
    stages: HashMap<i32, String>,
    users: HashMap<i32, String>,
    plans: HashMap<i32, String>,
}

impl Names {
    pub(super) async fn load(db: &DatabaseConnection) -> AppResult<Self> {
        let (projects, stages, users, plans) = tokio::try_join!(
            projects::Entity::find()
                .select_only()
                .columns([
                    projects::Column::Id,
                    projects::Column::Title,
                    projects::Column::Code
                ])
                .into_tuple::<(i32, String, Option<String>)>()
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
            plans::Entity::find()
                .select_only()
                .columns([plans::Column::Id, plans::Column::Title])
                .into_tuple::<(i32, String)>()
                .all(db),
        )?;
        let codes = projects
            .iter()
            .filter_map(|(id, _, code)| Some((*id, code.clone()?)))
            .collect();
        Ok(Names {
            projects: projects.into_iter().map(|(id, t, _)| (id, t)).collect(),
            codes,
            stages: stages.into_iter().collect(),
            users: users.into_iter().collect(),
            plans: plans.into_iter().collect(),
        })
    }

    /// Whether every id the rows name is known (one created during the export may not be).
    pub(super) fn cover(&self, rows: &[Row]) -> bool {
        rows.iter().all(|r| {
            self.projects.contains_key(&r.project_id)
                && r.stage_id.is_none_or(|s| self.stages.contains_key(&s))
                && r.performer_id.is_none_or(|u| self.users.contains_key(&u))
                && self.users.contains_key(&r.author_id)
                && r.plan_id.is_none_or(|p| self.plans.contains_key(&p))
        })
    }
}

fn name(map: &HashMap<i32, String>, id: Option<i32>) -> &str {
    id.and_then(|i| map.get(&i)).map_or("", String::as_str)
}

/// One cell of an exported row, typed: the CSV writes each as text, the XLSX as a
/// number, a date or a timestamp where it is one.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Empty,
    Text(Cow<'a, str>),
    Int(i64),
    Number(f64),
    Date(NaiveDate),
    Time(DateTime<Utc>),
}

impl Cell<'_> {
    /// The CSV's spelling (RFC 3339 in UTC for timestamps, `YYYY-MM-DD` for dates).
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Cell::Empty => Cow::Borrowed(""),
            Cell::Text(t) => Cow::Borrowed(t),
            Cell::Int(n) => Cow::Owned(n.to_string()),
            Cell::Number(v) => Cow::Owned(v.to_string()),
            Cell::Date(d) => Cow::Owned(d.to_string()),
            Cell::Time(t) => Cow::Owned(timestamp(*t)),
        }
    }
}

fn text_or_empty(s: &str) -> Cell<'_> {
    if s.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(Cow::Borrowed(s))
    }
}

impl Row {
    /// In [`COLUMNS`] order; [`Cell::Empty`] for none. Text is borrowed, not copied.
    pub(super) fn cells<'a>(&'a self, names: &'a Names, labels: &'a Spelling) -> [Cell<'a>; 18] {
        [
            names.codes.get(&self.project_id).map_or(Cell::Empty, |c| {
                Cell::Text(Cow::Owned(keys::format(c, self.number)))
            }),
            Cell::Int(i64::from(self.id)),
            text_or_empty(name(&names.projects, Some(self.project_id))),
            text_or_empty(name(&names.stages, self.stage_id)),
            text_or_empty(&self.title),
            text_or_empty(&self.description),
            text_or_empty(labels.priority(self.priority)),
            text_or_empty(labels.status(self.status)),
            text_or_empty(name(&names.users, self.performer_id)),
            text_or_empty(name(&names.users, Some(self.author_id))),
            self.deadline.map_or(Cell::Empty, Cell::Date),
            Cell::Time(self.created_at),
            Cell::Time(self.updated_at),
            self.closed_at.map_or(Cell::Empty, Cell::Time),
            text_or_empty(name(&names.plans, self.plan_id)),
            self.location_x.map_or(Cell::Empty, Cell::Number),
            self.location_y.map_or(Cell::Empty, Cell::Number),
            text_or_empty(self.location_label.as_deref().unwrap_or("")),
        ]
    }
}

/// Appends RFC 4180 records (CRLF, quoted where needed, cells separated as `labels`
/// says) to `out`.
pub(super) fn encode(
    out: Vec<u8>,
    header: bool,
    rows: &[Row],
    names: &Names,
    labels: &Spelling,
) -> AppResult<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(labels.delimiter)
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    if header {
        w.write_record(&labels.header).map_err(AppError::internal)?;
    }
    for row in rows {
        for cell in row.cells(names, labels) {
            w.write_field(neutralise(&cell.text()).as_bytes())
                .map_err(AppError::internal)?;
        }
        w.write_record(None::<&[u8]>).map_err(AppError::internal)?;
    }
    w.into_inner()
        .map_err(|e| AppError::internal(e.into_error()))
}

#[cfg(test)]
mod tests;
