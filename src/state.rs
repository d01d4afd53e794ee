use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{auth::throttle::LoginThrottle, auth::tokens::Keys, config::Config};

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub keys: Arc<Keys>,
    pub throttle: Arc<LoginThrottle>,
}

impl AppState {
    pub fn new(db: DatabaseConnection, config: Config) -> Self {
        let keys = match &config.jwt_secret {
            Some(secret) => Keys::new(secret.as_bytes()),
            None => {
                tracing::warn!(
                    "JWT_SECRET is not set: using a random per-process key. Tokens will not \
                     survive a restart. Set JWT_SECRET (32+ characters) for anything but a demo."
                );
                Keys::random()
            }
        };
        let throttle = LoginThrottle::new(config.login_max_failures, config.login_lockout);
        AppState {
            db,
            config: Arc::new(config),
            keys: Arc::new(keys),
            throttle: Arc::new(throttle),
        }
    }
}
