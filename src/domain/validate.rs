//! Field validation shared by the services. Messages name the field first.
use crate::i18n::Msg;
use chrono::NaiveDate;

use crate::error::{AppError, AppResult};

/// A required single-line text: trimmed, not empty, at most `max` characters.
pub fn title(field: &str, value: &str, max: usize) -> AppResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::BadUserInput(Msg::MustNotBeEmpty {
            field: field.into(),
        }));
    }
    if v.chars().count() > max {
        return Err(AppError::BadUserInput(Msg::AtMostChars {
            field: field.into(),
            max,
        }));
    }
    no_control(field, v)?;
    Ok(v.to_owned())
}

/// Multi-line free text: at most `max` characters; tabs and line breaks are the only
/// control characters allowed (NUL and the rest are refused here rather than failing
/// in PostgreSQL, which cannot store NUL, or garbling exports and logs).
pub fn text(field: &str, value: &str, max: usize) -> AppResult<String> {
    if value.chars().count() > max {
        return Err(AppError::BadUserInput(Msg::AtMostChars {
            field: field.into(),
            max,
        }));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(AppError::BadUserInput(Msg::NoControlCharsButBreaks {
            field: field.into(),
        }));
    }
    Ok(value.to_owned())
}

/// Optional single-line text (a full name): at most `max` characters, no control
/// characters at all.
pub fn line(field: &str, value: &str, max: usize) -> AppResult<String> {
    let v = text(field, value, max)?;
    no_control(field, &v)?;
    Ok(v)
}

/// A search query: a single line of at most 200 characters.
pub fn search(value: Option<&str>) -> AppResult<()> {
    if let Some(v) = value {
        line("search", v, SEARCH_MAX)?;
    }
    Ok(())
}

pub const SEARCH_MAX: usize = 200;

fn no_control(field: &str, value: &str) -> AppResult<()> {
    if value.chars().any(char::is_control) {
        return Err(AppError::BadUserInput(Msg::NoControlChars {
            field: field.into(),
        }));
    }
    Ok(())
}

/// `column IN (values)` for a list of enum values from input: the one place every such
/// filter is built (defects, reports, the journal), each value once, so a list of any
/// length (70,000 entries of `kinds`, `status`, …) costs at most as many SQL parameters
/// as the enum has values.
pub fn one_of<C, T>(column: C, values: &[T]) -> sea_orm::sea_query::SimpleExpr
where
    C: sea_orm::sea_query::IntoColumnRef,
    T: sea_orm::ActiveEnum + PartialEq + Copy,
{
    use sea_orm::sea_query::{Expr, ExprTrait};
    Expr::col(column).is_in(distinct(values).iter().map(|v| v.to_value()))
}

/// Each value once, in first-seen order.
pub fn distinct<T: PartialEq + Copy>(values: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for v in values {
        if !out.contains(v) {
            out.push(*v);
        }
    }
    out
}

pub fn date_range(start: Option<NaiveDate>, end: Option<NaiveDate>) -> AppResult<()> {
    match (start, end) {
        (Some(s), Some(e)) if e < s => Err(AppError::BadUserInput(Msg::EndBeforeStart {
            field: "endDate".into(),
        })),
        _ => Ok(()),
    }
}

/// One of our opaque IDs, or `None` for anything else (text, SQL, zero, negatives,
/// numbers out of range). Every place that reads an ID decides only what `None` means.
pub fn parse_id(raw: &str) -> Option<i32> {
    raw.parse::<i32>().ok().filter(|v| *v > 0)
}

/// Parses an opaque ID. Anything that is not one of ours is simply not found.
pub fn id(not_found: Msg, raw: &str) -> AppResult<i32> {
    parse_id(raw).ok_or(AppError::NotFound(not_found))
}

/// An ID given as a reference in input (a stage, a performer, a query parameter): one
/// that is not ours is BAD_USER_INPUT with `refusal` (which names the field).
pub fn id_or_bad_input(raw: &str, refusal: Msg) -> AppResult<i32> {
    parse_id(raw).ok_or(AppError::BadUserInput(refusal))
}

/// An ID used as a filter: one that is not ours becomes 0, which no row has, so the
/// filter matches nothing (as an unknown id would) instead of failing the list.
pub fn id_or_nothing(raw: &str) -> i32 {
    parse_id(raw).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(title("title", "  Screed ", 10).unwrap(), "Screed");
        assert!(
            title("title", "   ", 10)
                .unwrap_err()
                .to_string()
                .starts_with("title:")
        );
        assert!(title("title", "abcdefghijk", 10).is_err());
        assert!(title("title", "a\u{0}b", 10).is_err());
    }

    #[test]
    fn control_characters_are_refused_except_tabs_and_line_breaks_in_text() {
        assert_eq!(
            text("body", "line 1\r\nline\t2", 100).unwrap(),
            "line 1\r\nline\t2"
        );
        for bad in ["a\u{0}b", "a\u{1b}[31m", "a\u{7f}", "a\u{85}"] {
            let e = text("body", bad, 100).unwrap_err().to_string();
            assert!(e.starts_with("body:"), "{e}");
            assert!(line("fullName", bad, 100).is_err());
        }
        assert!(line("fullName", "a\nb", 100).is_err());
        assert!(search(Some("трещина")).is_ok());
        assert!(search(None).is_ok());
        assert!(
            search(Some("a\u{0}"))
                .unwrap_err()
                .to_string()
                .starts_with("search:")
        );
        assert!(search(Some(&"x".repeat(201))).is_err());
    }

    #[test]
    fn enum_lists_are_deduplicated() {
        let many: Vec<u8> = (0..70_000).map(|i| (i % 5) as u8).collect();
        assert_eq!(distinct(&many), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn ids_that_are_not_ours_are_not_found() {
        assert_eq!(id(Msg::UserNotFound, "12").unwrap(), 12);
        for raw in [
            "",
            "0",
            "-1",
            "1 OR 1=1",
            "1; DROP TABLE users",
            "99999999999",
            "abc",
        ] {
            assert!(
                matches!(id(Msg::UserNotFound, raw), Err(AppError::NotFound(_))),
                "{raw}"
            );
        }
    }

    #[test]
    fn ids_that_are_not_ours_match_nothing() {
        assert_eq!(id_or_nothing("12"), 12);
        assert_eq!(id_or_nothing("1 OR 1=1"), 0);
        assert_eq!(id_or_nothing("-3"), 0);
    }

    #[test]
    fn end_date_may_not_precede_start_date() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        assert!(date_range(d("2026-01-02"), d("2026-01-01")).is_err());
        assert!(date_range(d("2026-01-01"), d("2026-01-01")).is_ok());
        assert!(date_range(None, d("2026-01-01")).is_ok());
    }
}
