//! Field validation shared by the services. Messages name the field first.
use chrono::NaiveDate;

use crate::error::{AppError, AppResult};

/// A required single-line text: trimmed, not empty, at most `max` characters.
pub fn title(field: &str, value: &str, max: usize) -> AppResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::bad_input(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(AppError::bad_input(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            field,
            "must not contain control characters",
        ));
    }
    Ok(v.to_owned())
}

/// Free text: at most `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> AppResult<String> {
    if value.chars().count() > max {
        return Err(AppError::bad_input(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

pub fn date_range(start: Option<NaiveDate>, end: Option<NaiveDate>) -> AppResult<()> {
    match (start, end) {
        (Some(s), Some(e)) if e < s => Err(AppError::bad_input(
            "endDate",
            "must not be before startDate",
        )),
        _ => Ok(()),
    }
}

/// One of our opaque IDs, or `None` for anything else (text, SQL, zero, negatives,
/// numbers out of range). Every place that reads an ID decides only what `None` means.
pub fn parse_id(raw: &str) -> Option<i32> {
    raw.parse::<i32>().ok().filter(|v| *v > 0)
}

/// Parses an opaque ID. Anything that is not one of ours is simply not found.
pub fn id(what: &str, raw: &str) -> AppResult<i32> {
    parse_id(raw).ok_or_else(|| AppError::not_found(what))
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
    fn ids_that_are_not_ours_are_not_found() {
        assert_eq!(id("user", "12").unwrap(), 12);
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
                matches!(id("user", raw), Err(AppError::NotFound(_))),
                "{raw}"
            );
        }
    }

    #[test]
    fn end_date_may_not_precede_start_date() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        assert!(date_range(d("2026-01-02"), d("2026-01-01")).is_err());
        assert!(date_range(d("2026-01-01"), d("2026-01-01")).is_ok());
        assert!(date_range(None, d("2026-01-01")).is_ok());
    }
}
