//! A count per key with a maximum, each place given back when dropped, whichever way
//! its holder ends: connections per TCP peer (`server`), WebSockets per address and per
//! user (`http::ws::caps`), live subscriptions per user (`live`).
use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex, PoisonError},
};

/// Open things per key, at most `max` each.
pub struct PerKey<K> {
    max: usize,
    open: Arc<Mutex<HashMap<K, usize>>>,
}

/// One place under a [`PerKey`] cap, given back on drop.
pub struct KeyPlace<K: Hash + Eq> {
    key: Option<K>,
    open: Arc<Mutex<HashMap<K, usize>>>,
}

impl<K: Hash + Eq + Clone> PerKey<K> {
    pub fn new(max: usize) -> Self {
        PerKey {
            max,
            open: Arc::default(),
        }
    }

    /// How many places one key may hold.
    pub fn max(&self) -> usize {
        self.max
    }

    /// A place for `key`, or `None` when it holds `max` already.
    pub fn take(&self, key: K) -> Option<KeyPlace<K>> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(key.clone()).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(KeyPlace {
            key: Some(key),
            open: self.open.clone(),
        })
    }
}

impl<K: Hash + Eq> Drop for KeyPlace<K> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&key) {
            *n -= 1;
            // Keys with nothing open are removed, so the map holds only live keys.
            if *n == 0 {
                open.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_per_key_and_given_back_on_drop() {
        let caps = PerKey::new(2);
        let a1 = caps.take("a").unwrap();
        let _a2 = caps.take("a").unwrap();
        assert!(caps.take("a").is_none());
        let _b = caps.take("b").unwrap();
        drop(a1);
        assert_eq!(caps.open.lock().unwrap()["a"], 1);
        let _a3 = caps.take("a").unwrap();
        assert!(caps.take("a").is_none());
        drop(_b);
        assert!(!caps.open.lock().unwrap().contains_key("b"));
    }
}
