//! How many WebSockets may be open: in all (`MAX_CONNECTIONS` minus
//! `WS_RESERVED_CONNECTIONS`, so sockets never take the connections `/health` and plain
//! requests need), per client address (`WS_MAX_PER_ADDRESS`, counted from the upgrade)
//! and per user (`WS_MAX_PER_USER`, counted from `connection_init`). Each place is a guard
//! that gives itself back when dropped, whichever way the socket ends.
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use crate::caps::{KeyPlace, PerKey};
use crate::config::Config;

/// The process's WebSocket caps (one per router).
pub struct SocketCaps {
    total: Arc<Semaphore>,
    addresses: PerKey<String>,
    users: PerKey<i32>,
}

/// Why an upgrade is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Sockets hold every connection they may: 503, retry later.
    Full,
    /// This client address holds `WS_MAX_PER_ADDRESS` sockets.
    Address,
}

/// A socket's places (in all and for its address); the user's comes at `connection_init`.
pub struct SocketPlace {
    _total: OwnedSemaphorePermit,
    _address: KeyPlace<String>,
}

impl SocketCaps {
    pub fn new(config: &Config) -> Self {
        SocketCaps {
            total: Arc::new(Semaphore::new(
                config
                    .max_connections
                    .saturating_sub(config.ws_reserved_connections),
            )),
            addresses: PerKey::new(config.ws_max_per_address),
            users: PerKey::new(config.ws_max_per_user),
        }
    }

    /// The places of a new socket from `address`.
    pub fn open(&self, address: String) -> Result<SocketPlace, Refused> {
        let total = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::Full)?;
        let address = self.addresses.take(address).ok_or(Refused::Address)?;
        Ok(SocketPlace {
            _total: total,
            _address: address,
        })
    }

    /// A place for one more socket of `user`, or `None` at `WS_MAX_PER_USER`.
    pub fn user(&self, user: i32) -> Option<KeyPlace<i32>> {
        self.users.take(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_leave_the_reserve_to_plain_http() {
        let mut config = Config::for_database("sqlite::memory:");
        config.max_connections = 5;
        config.ws_reserved_connections = 2;
        config.ws_max_per_address = 10;
        let caps = SocketCaps::new(&config);
        let held: Vec<_> = (0..3)
            .map(|i| caps.open(format!("10.0.0.{i}")).unwrap())
            .collect();
        assert_eq!(caps.open("10.0.0.9".into()).err(), Some(Refused::Full));
        drop(held);
        config.ws_max_per_address = 1;
        let caps = SocketCaps::new(&config);
        let _one = caps.open("10.0.0.1".into()).unwrap();
        assert_eq!(caps.open("10.0.0.1".into()).err(), Some(Refused::Address));
        // The refused one gave its place in all back.
        let _others: Vec<_> = (2..4)
            .map(|i| caps.open(format!("10.0.0.{i}")).unwrap())
            .collect();
    }
}

/// The connection's place under `MAX_CONNECTIONS` and `MAX_CONNECTIONS_PER_ADDRESS`,
/// taken by the accept loop (`server.rs`) and put on each request: a WebSocket keeps it
/// after hyper hands the upgraded connection over. Defined here, beside the other places,
/// so that `server` depends on `http` and not the other way round.
#[derive(Clone)]
pub struct ConnectionSlot(#[allow(dead_code)] std::sync::Arc<Places>);

struct Places {
    _total: tokio::sync::OwnedSemaphorePermit,
    /// `None` for a trusted proxy's connections.
    _address: Option<KeyPlace<std::net::IpAddr>>,
}

impl ConnectionSlot {
    pub fn new(
        total: tokio::sync::OwnedSemaphorePermit,
        address: Option<KeyPlace<std::net::IpAddr>>,
    ) -> Self {
        ConnectionSlot(std::sync::Arc::new(Places {
            _total: total,
            _address: address,
        }))
    }
}
