//! Case-insensitive substring search that behaves the same on SQLite and PostgreSQL.
//!
//! SQLite's `lower()` and `LIKE` fold ASCII only, so every searchable table keeps a
//! `search_text` column lower-cased in Rust (full Unicode), and the query is lower-cased
//! the same way. `%`, `_` and `\` in the query are escaped, so they match literally.
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, SimpleExpr};
use sea_orm::{ColumnTrait, IntoSimpleExpr};

/// The value to store in a `search_text` column.
pub fn normalize(parts: &[&str]) -> String {
    parts.join("\n").to_lowercase()
}

/// The LIKE pattern for a user's query: lower-cased, wildcards escaped with `\`.
pub fn like_pattern(query: &str) -> String {
    let mut out = String::with_capacity(query.len() + 2);
    out.push('%');
    for c in query.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `column LIKE '%query%' ESCAPE '\'`, or `None` for an empty query.
pub fn matches(column: impl ColumnTrait, query: &str) -> Option<SimpleExpr> {
    if query.trim().is_empty() {
        return None;
    }
    Some(
        Expr::expr(column.into_simple_expr()).like(LikeExpr::new(like_pattern(query)).escape('\\')),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_wildcards_and_fold_case() {
        assert_eq!(like_pattern("Трещина"), "%трещина%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(like_pattern("  Fire Seal "), "%fire seal%");
    }

    #[test]
    fn normalized_text_is_lower_case_unicode() {
        assert_eq!(
            normalize(&["Трещина В Стяжке", "FIRE"]),
            "трещина в стяжке\nfire"
        );
    }
}
