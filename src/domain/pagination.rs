//! Keyset pagination: a cursor holds the sort key of the last row seen, so pages stay
//! stable while rows are added (no OFFSET, no repeats, no skips).
use crate::i18n::Msg;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::error::{AppError, AppResult};

pub const DEFAULT_PAGE_SIZE: u64 = 20;
pub const MAX_PAGE_SIZE: u64 = 100;

/// The sort key of one row, opaque to clients.
#[derive(Clone, Debug, PartialEq)]
pub struct Cursor(pub Vec<Value>);

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(Value::Array(self.0.clone()).to_string())
    }

    pub fn decode(raw: &str) -> AppResult<Self> {
        let invalid = || {
            AppError::BadUserInput(Msg::BadCursor {
                field: "after".into(),
            })
        };
        if raw.len() > 1024 {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        match serde_json::from_slice(&bytes).map_err(|_| invalid())? {
            Value::Array(values) => Ok(Cursor(values)),
            _ => Err(invalid()),
        }
    }

    fn invalid() -> AppError {
        AppError::BadUserInput(Msg::BadCursor {
            field: "after".into(),
        })
    }

    pub fn str(&self, i: usize) -> AppResult<String> {
        self.0
            .get(i)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(Self::invalid)
    }

    pub fn int(&self, i: usize) -> AppResult<i64> {
        self.0
            .get(i)
            .and_then(Value::as_i64)
            .ok_or_else(Self::invalid)
    }

    /// The id tiebreak, always the last element.
    pub fn id(&self) -> AppResult<i32> {
        let last = self.0.len().checked_sub(1).ok_or_else(Self::invalid)?;
        i32::try_from(self.int(last)?).map_err(|_| Self::invalid())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `first` / `after` validated.
#[derive(Clone, Debug)]
pub struct PageArgs {
    pub first: u64,
    pub after: Option<Cursor>,
}

impl PageArgs {
    pub fn new(first: Option<i32>, after: Option<&str>) -> AppResult<Self> {
        let first = match first {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if n < 0 => {
                return Err(AppError::BadUserInput(Msg::MustNotBeNegative {
                    field: "first".into(),
                }));
            }
            Some(n) if n as u64 > MAX_PAGE_SIZE => {
                return Err(AppError::BadUserInput(Msg::AtMost {
                    field: "first".into(),
                    max: MAX_PAGE_SIZE,
                }));
            }
            Some(n) => n as u64,
        };
        let after = after.map(Cursor::decode).transpose()?;
        Ok(PageArgs { first, after })
    }
}

pub struct Page<T> {
    pub items: Vec<(Cursor, T)>,
    pub has_next: bool,
    pub has_previous: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to `first + 1` rows fetched in order.
    pub fn from_rows(mut rows: Vec<T>, args: &PageArgs, cursor: impl Fn(&T) -> Cursor) -> Self {
        let has_next = rows.len() as u64 > args.first;
        rows.truncate(args.first as usize);
        Page {
            items: rows.into_iter().map(|r| (cursor(&r), r)).collect(),
            has_next,
            has_previous: args.after.is_some(),
        }
    }

    pub fn map<U>(self, f: impl Fn(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(|(c, t)| (c, f(t))).collect(),
            has_next: self.has_next,
            has_previous: self.has_previous,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cursors_round_trip_and_garbage_is_bad_input() {
        let c = Cursor(vec![json!("Трещина"), json!(42)]);
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert_eq!(c.id().unwrap(), 42);
        for bad in ["", "!!!", "e30", &"A".repeat(2000)] {
            assert!(
                matches!(Cursor::decode(bad), Err(AppError::BadUserInput(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn first_is_bounded() {
        assert_eq!(PageArgs::new(None, None).unwrap().first, 20);
        assert_eq!(PageArgs::new(Some(100), None).unwrap().first, 100);
        assert!(PageArgs::new(Some(101), None).is_err());
        assert!(
            PageArgs::new(Some(1000), None)
                .unwrap_err()
                .to_string()
                .starts_with("first:")
        );
        assert!(PageArgs::new(Some(-1), None).is_err());
    }

    #[test]
    fn a_page_knows_whether_more_rows_follow() {
        let args = PageArgs::new(Some(2), None).unwrap();
        let p = Page::from_rows(vec![1, 2, 3], &args, |n| Cursor(vec![json!(n)]));
        assert!(p.has_next);
        assert_eq!(p.items.len(), 2);
        let p = Page::from_rows(vec![1, 2], &args, |n| Cursor(vec![json!(n)]));
        assert!(!p.has_next);
    }
}
