//! Login throttling: failed attempts counted per username and per client address.
//!
//! Hand-written rather than `governor`: a lockout must be *checked* on every attempt but
//! *charged* only on failures, and governor's limiters have no way to ask without
//! consuming a cell. The state is a bounded in-memory map (per process).
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::error::{AppError, AppResult};

const MAX_ENTRIES: usize = 100_000;
/// An address may fail this many times more than a single username before it is locked
/// out (several people behind one office NAT).
const ADDRESS_FACTOR: u32 = 4;

struct Entry {
    failures: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

pub struct LoginThrottle {
    max_failures: u32,
    window: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl LoginThrottle {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        LoginThrottle {
            max_failures,
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn keys(username: &str, addr: &str) -> [(String, u32); 2] {
        [
            (format!("u:{}", username.to_lowercase()), 1),
            (format!("a:{addr}"), ADDRESS_FACTOR),
        ]
    }

    /// Refuses while either key is locked out.
    pub fn check(&self, username: &str, addr: &str) -> AppResult<()> {
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let retry = Self::keys(username, addr)
            .iter()
            .filter_map(|(k, _)| entries.get(k)?.locked_until)
            .filter(|until| *until > now)
            .max();
        match retry {
            Some(until) => Err(AppError::RateLimited {
                retry_after: (until - now).as_secs().max(1),
            }),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, username: &str, addr: &str) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            let window = self.window;
            entries.retain(|_, e| {
                e.locked_until.is_some_and(|u| u > now) || now - e.window_start < window
            });
        }
        for (key, factor) in Self::keys(username, addr) {
            let entry = entries.entry(key).or_insert(Entry {
                failures: 0,
                window_start: now,
                locked_until: None,
            });
            if now - entry.window_start >= self.window {
                entry.failures = 0;
                entry.window_start = now;
                entry.locked_until = None;
            }
            entry.failures += 1;
            if entry.failures >= self.max_failures.saturating_mul(factor) {
                entry.locked_until = Some(now + self.window);
            }
        }
    }

    /// A successful login clears the username's count (not the address's).
    pub fn record_success(&self, username: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(&format!("u:{}", username.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_failures_locks_the_username() {
        let t = LoginThrottle::new(3, Duration::from_secs(60));
        for _ in 0..2 {
            t.record_failure("Ann", "1.1.1.1");
            assert!(t.check("ann", "1.1.1.1").is_ok());
        }
        t.record_failure("ann", "1.1.1.1");
        let e = t.check("ANN", "2.2.2.2").unwrap_err();
        assert!(
            matches!(e, AppError::RateLimited { retry_after } if retry_after > 0 && retry_after <= 60)
        );
        assert!(
            t.check("bob", "2.2.2.2").is_ok(),
            "other users are not affected"
        );
    }

    #[test]
    fn an_address_is_locked_after_many_usernames_fail() {
        let t = LoginThrottle::new(2, Duration::from_secs(60));
        for i in 0..8 {
            t.record_failure(&format!("user{i}"), "9.9.9.9");
        }
        assert!(t.check("someone-new", "9.9.9.9").is_err());
        assert!(t.check("someone-new", "8.8.8.8").is_ok());
    }

    #[test]
    fn the_lock_expires_after_the_window() {
        let t = LoginThrottle::new(1, Duration::from_millis(30));
        t.record_failure("ann", "x");
        assert!(t.check("ann", "x").is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(t.check("ann", "x").is_ok());
    }

    #[test]
    fn success_resets_the_username_count() {
        let t = LoginThrottle::new(2, Duration::from_secs(60));
        t.record_failure("ann", "x");
        t.record_success("ann");
        t.record_failure("ann", "y");
        assert!(t.check("ann", "z").is_ok());
    }
}
