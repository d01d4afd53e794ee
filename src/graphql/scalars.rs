//! `Date` (`YYYY-MM-DD`). `DateTime` is async-graphql's chrono scalar (RFC 3339, UTC),
//! described in the contract's words by [`DATE_TIME`] when the schema is built.
use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// An ISO 8601 calendar date, `YYYY-MM-DD` (RFC 3339's `full-date`), e.g. `2025-03-31`.
#[Scalar(
    name = "Date",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
)]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom("expected a date as YYYY-MM-DD")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// The description of `DateTime`, which replaces the library's (it named a Rust type).
/// Its `@specifiedBy` URL is the library's: RFC 3339.
pub const DATE_TIME: &str = "An instant, RFC 3339 in UTC, e.g. `2025-03-31T09:15:00.5+00:00`. \
An input with another offset is converted to UTC.";

impl From<NaiveDate> for Date {
    fn from(d: NaiveDate) -> Self {
        Date(d)
    }
}

/// `MaybeUndefined` to the domain's `Patch`.
pub fn patch<T, U>(
    v: async_graphql::MaybeUndefined<T>,
    f: impl FnOnce(T) -> U,
) -> crate::domain::Patch<U> {
    match v {
        async_graphql::MaybeUndefined::Undefined => None,
        async_graphql::MaybeUndefined::Null => Some(None),
        async_graphql::MaybeUndefined::Value(v) => Some(Some(f(v))),
    }
}

/// Parses an `ID` argument; an ID that is not ours is NOT_FOUND like any unknown one.
pub fn id(what: crate::error::Msg, raw: &async_graphql::ID) -> async_graphql::Result<i32> {
    use async_graphql::ErrorExtensions;
    crate::domain::validate::id(what, raw.as_str()).map_err(|e| e.extend())
}
