//! Defect keys people say aloud: `<project code>-<number>` ("СК1-042"). The number is
//! given out per project in the create's transaction ([`next_number`]); the code is the
//! project's ([`code`] validates it). Parsing a key or a bare number for
//! `defectByKey` and `search` lives here too, so the spelling has one owner.
use crate::i18n::Msg;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

use super::queries;
use crate::{
    auth::Viewer,
    entities::{defect_numbers, defects, projects},
    error::{AppError, AppResult},
};

pub const CODE_MIN: usize = 2;
pub const CODE_MAX: usize = 10;
/// Numbers are zero-padded to at least this many digits in a key.
const PAD: usize = 3;
/// The longest text `defectByKey` reads: a key is at most 20 characters (a 10-character
/// code, `-`, 9 digits); the rest is room for the spaces around a pasted one. Longer text
/// is refused before it is trimmed or parsed.
pub const KEY_MAX_CHARS: usize = 64;

/// A project code as given: trimmed, 2–10 letters or digits of any script (Cyrillic
/// included). Returns the code and its unique, case-insensitive form.
pub fn code(raw: &str) -> AppResult<(String, String)> {
    let v = raw.trim();
    let n = v.chars().count();
    if !(CODE_MIN..=CODE_MAX).contains(&n) || !v.chars().all(char::is_alphanumeric) {
        return Err(AppError::BadUserInput(Msg::CodeFormat {
            field: "code".into(),
        }));
    }
    Ok((v.to_owned(), fold(v)))
}

/// The case-insensitive form of a code (Unicode lower case, done in Rust because
/// SQLite's `lower()` folds ASCII only).
fn fold(code: &str) -> String {
    code.to_lowercase()
}

/// `СК1-042`; numbers past 999 keep all their digits (`СК1-1234`).
pub fn format(code: &str, number: i32) -> String {
    format!("{code}-{number:0PAD$}")
}

/// What a key or number in text refers to.
#[derive(Debug, PartialEq, Eq)]
pub enum Reference {
    /// A full key: the folded code and the number.
    Key(String, i32),
    /// A bare number (`42`, `042`, `#42`).
    Number(i32),
}

fn number(raw: &str) -> Option<i32> {
    if raw.is_empty() || raw.len() > 9 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok().filter(|n| *n > 0)
}

/// A key (`СК1-042`, any case, any padding) or a bare number, or `None`.
pub fn parse(text: &str) -> Option<Reference> {
    let t = text.trim();
    if let Some((code_part, num)) = t.rsplit_once('-') {
        let n = number(num)?;
        let (_, folded) = code(code_part).ok()?;
        return Some(Reference::Key(folded, n));
    }
    number(t.strip_prefix('#').unwrap_or(t)).map(Reference::Number)
}

/// The condition a key or number in a search query adds (ORed with the text match).
pub fn search_condition(query: &str) -> Option<Condition> {
    match parse(query)? {
        Reference::Number(n) => Some(Condition::all().add(defects::Column::Number.eq(n))),
        Reference::Key(code, n) => Some(
            Condition::all()
                .add(defects::Column::Number.eq(n))
                .add(defects::Column::ProjectId.in_subquery(project_with_code(&code))),
        ),
    }
}

fn project_with_code(folded: &str) -> sea_orm::sea_query::SelectStatement {
    projects::Entity::find()
        .select_only()
        .column(projects::Column::Id)
        .filter(projects::Column::CodeKey.eq(folded))
        .into_query()
}

/// The defect with this key, if the viewer can see it; NOT_FOUND otherwise (and for a
/// key of a project the viewer cannot see, so a key reveals nothing).
pub async fn find(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    key: &str,
) -> AppResult<defects::Model> {
    if key.chars().nth(KEY_MAX_CHARS).is_some() {
        return Err(AppError::BadUserInput(Msg::KeyTooLong {
            field: "key".into(),
        }));
    }
    let Some(Reference::Key(code, n)) = parse(key) else {
        return Err(AppError::BadUserInput(Msg::KeyFormat {
            field: "key".into(),
        }));
    };
    queries::visible_to(viewer)
        .filter(defects::Column::Number.eq(n))
        .filter(defects::Column::ProjectId.in_subquery(project_with_code(&code)))
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(Msg::DefectNotFound))
}

/// The next number in the project, in the caller's (create) transaction: one
/// `INSERT … ON CONFLICT (project_id) DO UPDATE SET last_number = last_number + 1
/// RETURNING last_number`. The row lock it takes serialises concurrent creates in one
/// project on PostgreSQL until the transaction ends (SQLite has one writer), so numbers
/// are distinct and consecutive, and a create that fails later rolls its increment back:
/// no gaps from refused creates. Other projects are not blocked.
pub async fn next_number(txn: &impl ConnectionTrait, project_id: i32) -> AppResult<i32> {
    use defect_numbers::Column;
    let mut stmt = Query::insert();
    stmt.into_table(defect_numbers::Entity)
        .columns([Column::ProjectId, Column::LastNumber])
        .values_panic([project_id.into(), 1.into()])
        .on_conflict(
            OnConflict::column(Column::ProjectId)
                .value(
                    Column::LastNumber,
                    Expr::col((defect_numbers::Entity, Column::LastNumber)).add(1),
                )
                .to_owned(),
        )
        .returning_col(Column::LastNumber);
    let row = txn
        .query_one(&stmt)
        .await?
        .ok_or_else(|| AppError::internal(std::io::Error::other("no defect number returned")))?;
    Ok(row.try_get("", "last_number")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_code_dash_padded_number() {
        assert_eq!(format("СК1", 42), "СК1-042");
        assert_eq!(format("AB", 7), "AB-007");
        assert_eq!(format("AB", 1234), "AB-1234");
    }

    #[test]
    fn codes_are_two_to_ten_letters_or_digits() {
        assert_eq!(code(" Ск1 ").unwrap(), ("Ск1".into(), "ск1".into()));
        for bad in ["", "A", "ABCDEFGHIJK", "A-B", "A B", "AB_", "А\u{0}Б"] {
            assert!(code(bad).is_err(), "{bad:?}");
        }
        assert!(code("ABCDEFGHIJ").is_ok());
    }

    #[test]
    fn references_parse_keys_and_bare_numbers() {
        assert_eq!(parse("СК1-042"), Some(Reference::Key("ск1".into(), 42)));
        assert_eq!(parse(" ск1-42 "), Some(Reference::Key("ск1".into(), 42)));
        assert_eq!(parse("42"), Some(Reference::Number(42)));
        assert_eq!(parse("#007"), Some(Reference::Number(7)));
        for no in [
            "",
            "0",
            "-1",
            "crack",
            "СК1-",
            "СК1-x",
            "С-1",
            "1234567890",
            "a-b-c",
        ] {
            assert_eq!(parse(no), None, "{no:?}");
        }
    }
}
