//! `Date` (`YYYY-MM-DD`). `DateTime` is async-graphql's chrono scalar (RFC 3339, UTC).
use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// A calendar date, `YYYY-MM-DD`.
#[Scalar(name = "Date")]
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
