//! `GET /api/reports/handover.pdf`: the export's filter as query parameters plus `lang`
//! and `photos`, answered with the handover PDF while the caller waits, for up to
//! `HANDOVER_SYNC_MAX` defects (counted before anything is rendered).
use std::collections::HashSet;

use axum::{
    extract::{Query, State, rejection::QueryRejection},
    http::header,
    response::{IntoResponse, Response},
};

use super::{Http, export::ExportParams, viewer::RequireViewer};
use crate::{
    domain::documents::pdf::{self, PdfOptions},
    error::{AppError, AppResult},
    i18n::{Lang, Msg},
};

/// The export's filter parameters, then this document's own.
const PARAMS: [&str; 15] = [
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
    "lang",
    "photos",
];

/// The filter (parsed by the export's own parser) and the options. `lang` is the
/// document's language here (English by default), not the CSV's form.
fn parse(pairs: &[(String, String)]) -> AppResult<(ExportParams, PdfOptions)> {
    let mut opts = PdfOptions::default();
    let mut seen = HashSet::new();
    let mut filter = Vec::new();
    for (key, raw) in pairs {
        if !PARAMS.contains(&key.as_str()) {
            return Err(AppError::BadUserInput(Msg::UnknownParameter {
                field: key.clone(),
                choices: PARAMS.join(", "),
            }));
        }
        let v = raw.trim();
        match key.as_str() {
            "lang" | "photos" if !seen.insert(key.as_str()) => {
                return Err(AppError::BadUserInput(Msg::GivenTwice {
                    field: key.clone(),
                }));
            }
            _ if v.is_empty() => {}
            "lang" => {
                opts.lang = Lang::parse(v).ok_or_else(|| {
                    let all: Vec<&str> = Lang::ALL.iter().map(|l| l.tag()).collect();
                    AppError::BadUserInput(Msg::ExpectedAnyOf {
                        field: key.clone(),
                        choices: all.join(", "),
                    })
                })?
            }
            "photos" => {
                opts.photos = match v.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(AppError::BadUserInput(Msg::ExpectedBool {
                            field: key.clone(),
                        }));
                    }
                }
            }
            _ => filter.push((key.clone(), raw.clone())),
        }
    }
    Ok((ExportParams::parse(&filter)?, opts))
}

/// ADMIN and MANAGER only. Checks run in the order 401, 403, 400 (parameters, then the
/// size limit), before any rendering.
#[utoipa::path(get, path = "/api/reports/handover.pdf", tag = "reports",
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
        ("overdue" = Option<bool>, Query, description = "Open and the deadline is before the project's today"),
        ("search" = Option<String>, Query, description = "Case-insensitive substring of title or description, or a defect key"),
        ("lang" = Option<String>, Query, description = "en (default) or ru: the document's language"),
        ("photos" = Option<bool>, Query, description = "Plan excerpts and photos (default true); false: no images at all")
    ),
    responses(
        (status = 200, description = "The handover PDF: cover, defect table, one section per defect", content_type = "application/pdf"),
        (status = 400, description = "A bad or unknown parameter, or more defects than HANDOVER_SYNC_MAX (use requestDocument)", body = super::openapi::ErrorBody),
        (status = 401, description = "No or invalid token", body = super::openapi::ErrorBody),
        (status = 403, description = "Not an admin or manager", body = super::openapi::ErrorBody)
    ),
    security(("bearer" = [])))]
pub async fn handover(
    State(http): State<Http>,
    RequireViewer(viewer): RequireViewer,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, AppError> {
    pdf::authorize(&viewer)?;
    let Query(pairs) = query.map_err(|e| {
        AppError::BadUserInput(Msg::Unreadable {
            field: "query".into(),
            detail: e.body_text(),
        })
    })?;
    let (params, opts) = parse(&pairs)?;
    let state = &http.state;
    let limit = state.config.handover_sync_max;
    let count = pdf::count(&state.db, &viewer, &params.filter).await?;
    if count > limit {
        return Err(AppError::BadUserInput(Msg::HandoverTooLarge {
            count,
            limit,
        }));
    }
    let mut body = Vec::new();
    pdf::render(
        &state.db,
        &state.storage,
        &viewer,
        params.filter,
        opts,
        &|_, _| {},
        &mut body,
    )
    .await?;
    let today = crate::time::now().date_naive();
    let headers = [
        (header::CONTENT_TYPE, "application/pdf".to_owned()),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"handover-{today}.pdf\""),
        ),
        (header::CACHE_CONTROL, "no-store".to_owned()),
    ];
    Ok((headers, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_(q: &[(&str, &str)]) -> AppResult<(ExportParams, PdfOptions)> {
        let pairs: Vec<(String, String)> = q
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(&pairs)
    }

    #[test]
    fn lang_and_photos_are_the_documents_and_the_rest_is_the_exports_filter() {
        let (p, o) = parse_(&[
            ("project", "3"),
            ("status", "new"),
            ("lang", "ru"),
            ("photos", "FALSE"),
        ])
        .unwrap();
        assert_eq!((p.filter.project_id, p.filter.status.len()), (Some(3), 1));
        assert_eq!(
            o,
            PdfOptions {
                lang: Lang::Ru,
                photos: false
            }
        );
        let (_, o) = parse_(&[]).unwrap();
        assert_eq!(
            o,
            PdfOptions {
                lang: Lang::En,
                photos: true
            }
        );
    }

    #[test]
    fn bad_parameters_name_themselves() {
        for (q, prefix) in [
            (&[("lang", "fr")][..], "lang:"),
            (&[("photos", "yes")][..], "photos:"),
            (&[("lang", "en"), ("lang", "ru")][..], "lang:"),
            (&[("bom", "true")][..], "bom:"),
            (&[("project", "x")][..], "project:"),
        ] {
            match parse_(q) {
                Err(AppError::BadUserInput(m)) => {
                    assert!(m.to_string().starts_with(prefix), "{q:?}: {m}")
                }
                other => panic!("{q:?}: {:?}", other.map(|_| ())),
            }
        }
    }
}
