//! Timestamps at the precision both databases store (microseconds), so a value read
//! back equals the value written and can be used as an inclusive filter bound.
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}
