//! The rules. Services take a `&Viewer`, load through `visible_to`, check the policy and
//! write in one transaction.
pub mod defects;
pub mod documents;
pub mod idempotency;
pub mod notifications;
pub mod pagination;
pub mod plans;
pub mod projects;
pub mod reports;
pub mod search;
pub mod tokens;
pub mod users;
pub mod validate;
pub mod webhooks;

/// FORBIDDEN with `refusal` unless `allowed`: the one shape of every permission check
/// in the services (the rule itself comes from the area's `policy.rs`).
pub fn require(allowed: bool, refusal: crate::error::Msg) -> crate::error::AppResult<()> {
    if allowed {
        Ok(())
    } else {
        Err(crate::error::AppError::Forbidden(refusal))
    }
}

/// An update field: `None` leaves the value, `Some(None)` clears it, `Some(Some(v))` sets it.
pub type Patch<T> = Option<Option<T>>;
