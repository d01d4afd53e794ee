//! `GET /api/reports/export/`: the defect list's filter as query parameters, answered
//! with a CSV that streams batch by batch.
use crate::i18n::Msg;
use std::collections::HashSet;

use axum::{
    body::Body,
    extract::{Query, State, rejection::QueryRejection},
    http::header,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};
use sea_orm::Iterable;

use super::{Http, viewer::RequireViewer};
use crate::{
    domain::{
        defects::filter::DefectFilter,
        reports::export::{self, Form, priority_label, status_label},
        validate,
    },
    entities::enums::{DefectStatus, Priority},
    error::{AppError, AppResult},
    i18n::Lang,
};

const PARAMS: [&str; 16] = [
    "project",
    "plan",
    "stage",
    "performer",
    "author",
    "status",
    "priority",
    "created_from",
    "created_to",
    "deadline_from",
    "deadline_to",
    "overdue",
    "search",
    "bom",
    "lang",
    "format",
];

/// `?format=`: the CSV (default) or an XLSX sheet of the same rows.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    #[default]
    Csv,
    Xlsx,
}

/// The export's query parameters, parsed into the list's own filter type.
#[derive(Debug, Default)]
pub struct ExportParams {
    pub filter: DefectFilter,
    /// `?lang=ru|en` asks for the human form in that language; without it the machine
    /// form, whatever `Accept-Language` says (a browser's `fetch()` sends one).
    pub form: Form,
    /// `?bom=`; the form's default when absent (CSV only).
    pub bom: Option<bool>,
    pub format: Format,
}

/// Any of the values, separated by commas; each must be one of `choices` by its label.
fn any_of<T: Copy>(
    key: &str,
    v: &str,
    choices: impl Iterator<Item = T> + Clone,
    label: fn(T) -> &'static str,
) -> AppResult<Vec<T>> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            choices
                .clone()
                .find(|c| label(*c).eq_ignore_ascii_case(s))
                .ok_or_else(|| {
                    let all: Vec<&str> = choices.clone().map(label).collect();
                    AppError::BadUserInput(Msg::ExpectedAnyOf {
                        field: key.into(),
                        choices: all.join(", "),
                    })
                })
        })
        .collect()
}

fn timestamp(key: &str, v: &str) -> AppResult<DateTime<Utc>> {
    // An unencoded `+` in `+03:00` arrives as a space: read it as the `+` it was.
    let repaired = match v.rsplit_once(' ') {
        Some((head, tail)) if head.len() >= 19 => format!("{head}+{tail}"),
        _ => v.to_owned(),
    };
    DateTime::parse_from_rfc3339(v)
        .or_else(|_| DateTime::parse_from_rfc3339(&repaired))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| AppError::BadUserInput(Msg::ExpectedTimestamp { field: key.into() }))
}

fn date(key: &str, v: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map_err(|_| AppError::BadUserInput(Msg::ExpectedDate { field: key.into() }))
}

fn boolean(key: &str, v: &str) -> AppResult<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(AppError::BadUserInput(Msg::ExpectedBool {
            field: key.into(),
        })),
    }
}

/// A language we speak (`ru`, `ru-RU`, `EN`); another is refused rather than answered
/// in a form the caller did not ask for.
fn language(key: &str, v: &str) -> AppResult<Lang> {
    Lang::parse(v).ok_or_else(|| {
        let all: Vec<&str> = Lang::ALL.iter().map(|l| l.tag()).collect();
        AppError::BadUserInput(Msg::ExpectedAnyOf {
            field: key.into(),
            choices: all.join(", "),
        })
    })
}

impl ExportParams {
    /// `status` and `priority` may repeat and hold comma-separated values; others may
    /// appear once. An empty value is as if absent (what a blank form field sends); an
    /// unknown name is refused, so a typo cannot silently export everything.
    pub fn parse(pairs: &[(String, String)]) -> AppResult<Self> {
        let mut p = ExportParams::default();
        let mut seen = HashSet::new();
        for (key, raw) in pairs {
            let key = key.as_str();
            if !PARAMS.contains(&key) {
                return Err(AppError::BadUserInput(Msg::UnknownParameter {
                    field: key.into(),
                    choices: PARAMS.join(", "),
                }));
            }
            if !matches!(key, "status" | "priority") && !seen.insert(key) {
                return Err(AppError::BadUserInput(Msg::GivenTwice {
                    field: key.into(),
                }));
            }
            let v = raw.trim();
            if v.is_empty() {
                continue;
            }
            let f = &mut p.filter;
            match key {
                "project" => {
                    f.project_id = Some(validate::id_or_bad_input(
                        v,
                        Msg::ExpectedId { field: key.into() },
                    )?)
                }
                "stage" => {
                    f.stage_id = Some(validate::id_or_bad_input(
                        v,
                        Msg::ExpectedId { field: key.into() },
                    )?)
                }
                "plan" => {
                    f.plan_id = Some(validate::id_or_bad_input(
                        v,
                        Msg::ExpectedId { field: key.into() },
                    )?)
                }
                "performer" => {
                    f.performer_id = Some(validate::id_or_bad_input(
                        v,
                        Msg::ExpectedId { field: key.into() },
                    )?)
                }
                "author" => {
                    f.author_id = Some(validate::id_or_bad_input(
                        v,
                        Msg::ExpectedId { field: key.into() },
                    )?)
                }
                "status" => f
                    .status
                    .extend(any_of(key, v, DefectStatus::iter(), status_label)?),
                "priority" => f
                    .priority
                    .extend(any_of(key, v, Priority::iter(), priority_label)?),
                "created_from" => f.created_from = Some(timestamp(key, v)?),
                "created_to" => f.created_to = Some(timestamp(key, v)?),
                "deadline_from" => f.deadline_from = Some(date(key, v)?),
                "deadline_to" => f.deadline_to = Some(date(key, v)?),
                "overdue" => f.overdue = Some(boolean(key, v)?),
                "search" => {
                    validate::search(Some(v))?;
                    f.search = Some(v.to_owned());
                }
                "lang" => p.form = Form::Human(language(key, v)?),
                "format" => {
                    p.format = match v.to_ascii_lowercase().as_str() {
                        "csv" => Format::Csv,
                        "xlsx" => Format::Xlsx,
                        _ => {
                            return Err(AppError::BadUserInput(Msg::ExpectedAnyOf {
                                field: key.into(),
                                choices: "csv, xlsx".into(),
                            }));
                        }
                    }
                }
                _ => p.bom = Some(boolean(key, v)?),
            }
        }
        Ok(p)
    }
}

/// ADMIN and MANAGER only. Checks run in the order 401, 403, 400, before any row is read.
#[utoipa::path(get, path = "/api/reports/export/", tag = "reports",
    params(
        ("project" = Option<String>, Query, description = "Project id"),
        ("stage" = Option<String>, Query, description = "Stage id"),
        ("plan" = Option<String>, Query, description = "Plan id: defects pinned on it"),
        ("performer" = Option<String>, Query, description = "Performer's user id"),
        ("author" = Option<String>, Query, description = "Author's user id"),
        ("status" = Option<String>, Query, description = "Any of new, in_progress, review, closed, cancelled; comma-separated and/or repeated"),
        ("priority" = Option<String>, Query, description = "Any of low, medium, high; comma-separated and/or repeated"),
        ("created_from" = Option<String>, Query, description = "RFC 3339, inclusive"),
        ("created_to" = Option<String>, Query, description = "RFC 3339, inclusive"),
        ("deadline_from" = Option<String>, Query, description = "YYYY-MM-DD, inclusive"),
        ("deadline_to" = Option<String>, Query, description = "YYYY-MM-DD, inclusive"),
        ("overdue" = Option<bool>, Query, description = "Open and the deadline is before the project's today (the local date in its time zone)"),
        ("search" = Option<String>, Query, description = "Case-insensitive substring of title or description, or a defect key (СК1-042) or number matched exactly"),
        ("bom" = Option<bool>, Query, description = "Prepend a UTF-8 byte order mark (default: true for lang=ru, else false)"),
        ("format" = Option<String>, Query, description = "csv (default) or xlsx: the same rows as a sheet with a bold frozen header, an autofilter, numbers as numbers and dates/timestamps (UTC) as dates"),
        ("lang" = Option<String>, Query, description = "ru or en: the human form for a spreadsheet (translated header row and enum values; for ru a `;` separator and a BOM). Without it the machine form (the 200 response's column names, lower-case enum values, `,`, no BOM) whatever Accept-Language says; Accept-Language chooses the language of error bodies only")
    ),
    responses(
        (status = 200, description = "Streamed CSV (machine form): key,id,project,stage,title,description,priority,status,performer,author,deadline,created_at,updated_at,closed_at,plan,x,y,location", content_type = "text/csv"),
        (status = 400, description = "A bad or unknown parameter", body = super::openapi::ErrorBody),
        (status = 401, description = "No or invalid token", body = super::openapi::ErrorBody),
        (status = 403, description = "Not an admin or manager", body = super::openapi::ErrorBody)
    ),
    security(("bearer" = [])))]
pub async fn export(
    State(http): State<Http>,
    RequireViewer(viewer): RequireViewer,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, AppError> {
    // 401 comes from the extractor, 403 from the domain, then 400 from the parameters.
    let permit = export::authorize(viewer)?;
    let Query(pairs) = query.map_err(|e| {
        AppError::BadUserInput(Msg::Unreadable {
            field: "query".into(),
            detail: e.body_text(),
        })
    })?;
    let params = ExportParams::parse(&pairs)?;
    // The projects' todays, fixed for the whole stream (`overdue` means the same in
    // every batch); read only when the filter asks for `overdue`.
    let todays = params.filter.todays(&http.state.db).await?;
    let today = todays.now().date_naive();
    // The form is the caller's choice by name, never `Accept-Language`'s (which still
    // chooses the language of an error body): the body streams after this handler
    // returns, so the form goes with the stream.
    let form = params.form;
    if params.format == Format::Xlsx {
        let rows = permit.rows(http.state.db.clone(), params.filter, todays, form);
        return xlsx(rows, today).await;
    }
    let bom = params.bom.unwrap_or(form.bom_by_default());
    let mut chunks =
        Box::pin(permit.stream(http.state.db.clone(), params.filter, todays, form, bom));
    // The first batch is read before answering, so a failing database still gets an
    // error status; a later failure can only cut the body short.
    let first = chunks.next().await.transpose()?;
    let body = stream::iter(first.map(Ok)).chain(chunks).map_err(|e| {
        tracing::error!(error = ?e, "CSV export failed mid-stream");
        std::io::Error::other(e)
    });
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"defects-{today}.csv\""),
        ),
        (header::CACHE_CONTROL, "no-store".to_owned()),
    ];
    Ok((headers, Body::from_stream(body)).into_response())
}

/// The sheet is written whole into a temporary file (constant memory: rows go to disk
/// as they come), then the file streams; it is removed when the stream ends.
async fn xlsx(rows: export::Rows, today: NaiveDate) -> Result<Response, AppError> {
    let (file, _) = crate::domain::documents::xlsx::to_tempfile(rows).await?;
    let body = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let headers = [
        (
            header::CONTENT_TYPE,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned(),
        ),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"defects-{today}.xlsx\""),
        ),
        (header::CACHE_CONTROL, "no-store".to_owned()),
    ];
    Ok((headers, Body::from_stream(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &[(&str, &str)]) -> AppResult<ExportParams> {
        let pairs: Vec<(String, String)> = q
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ExportParams::parse(&pairs)
    }

    fn message(q: &[(&str, &str)]) -> String {
        match parse(q) {
            Err(AppError::BadUserInput(m)) => m.to_string(),
            other => panic!("{q:?}: expected BAD_USER_INPUT, got {other:?}"),
        }
    }

    #[test]
    fn every_parameter_lands_in_the_list_filter() {
        let p = parse(&[
            ("project", "1"),
            ("stage", "2"),
            ("performer", "3"),
            ("author", "4"),
            ("status", "new, IN_PROGRESS"),
            ("status", "closed"),
            ("priority", "high"),
            ("created_from", "2026-11-01T00:00:00Z"),
            ("created_to", "2026-11-02T12:00:00 03:00"),
            ("deadline_from", "2026-11-03"),
            ("deadline_to", "2026-11-04"),
            ("overdue", "false"),
            ("search", " трещина "),
            ("bom", "true"),
        ])
        .unwrap();
        let f = &p.filter;
        assert_eq!(
            (f.project_id, f.stage_id, f.performer_id, f.author_id),
            (Some(1), Some(2), Some(3), Some(4))
        );
        use DefectStatus::*;
        assert_eq!(f.status, [New, InProgress, Closed]);
        assert_eq!(f.priority, [Priority::High]);
        assert_eq!(
            f.created_to.unwrap().to_rfc3339(),
            "2026-11-02T09:00:00+00:00"
        );
        assert_eq!(f.deadline_to, NaiveDate::from_ymd_opt(2026, 11, 4));
        assert_eq!(
            (f.overdue, f.search.as_deref(), p.bom),
            (Some(false), Some("трещина"), Some(true))
        );
        assert_eq!(p.form, Form::Machine, "no lang: the machine form");
        let ru = parse(&[("lang", "ru-RU")]).unwrap();
        assert_eq!((ru.form, ru.bom), (Form::Human(Lang::Ru), None));
        let empty = parse(&[("project", ""), ("status", ""), ("bom", "")]).unwrap();
        assert!(empty.filter.project_id.is_none() && empty.filter.status.is_empty());
    }

    #[test]
    fn bad_values_name_their_parameter() {
        let cases: [(&[(&str, &str)], &str); 13] = [
            (&[("project", "abc")], "project:"),
            (&[("author", "-1")], "author:"),
            (&[("status", "new,done")], "status:"),
            (&[("priority", "urgent")], "priority:"),
            (&[("created_from", "2026-11-01")], "created_from:"),
            (&[("created_to", "yesterday")], "created_to:"),
            (&[("deadline_from", "01.11.2026")], "deadline_from:"),
            (&[("deadline_to", "2026-13-01")], "deadline_to:"),
            (&[("overdue", "yes")], "overdue:"),
            (&[("projects", "1")], "projects:"),
            (&[("project", "1"), ("project", "2")], "project:"),
            (&[("lang", "fr")], "lang:"),
            (&[("format", "ods")], "format:"),
        ];
        for (q, prefix) in cases {
            let m = message(q);
            assert!(m.starts_with(prefix), "{q:?}: {m}");
        }
    }
}
