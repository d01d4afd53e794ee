//! Who may manage API tokens, as pure rules.
use chrono::{DateTime, Utc};

use crate::auth::{Viewer, viewer::Via};

/// At most this many live (unrevoked, unexpired) tokens per user.
pub const MAX_LIVE_PER_USER: u64 = 20;

/// Tokens are made by a person who signed in, never by a token: a leaked token must not
/// be able to mint others that outlive its revocation.
pub fn may_create(viewer: &Viewer) -> bool {
    viewer.via == Via::Session
}

/// Whether a token with this expiry still works at `now`.
pub fn live(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    expires_at.is_none_or(|at| at > now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::enums::{ApiTokenScope, Role};

    fn viewer(via: Via) -> Viewer {
        Viewer {
            id: 1,
            username: "u".into(),
            role: Role::Admin,
            via,
        }
    }

    #[test]
    fn only_a_session_creates_tokens() {
        assert!(may_create(&viewer(Via::Session)));
        for scope in [ApiTokenScope::Read, ApiTokenScope::ReadWrite] {
            let via = Via::ApiToken {
                id: 3,
                scope,
                expires_at: None,
            };
            assert!(!may_create(&viewer(via)));
        }
    }

    #[test]
    fn a_token_lives_until_its_expiry() {
        let now = crate::time::now();
        let second = chrono::TimeDelta::seconds(1);
        assert!(live(None, now));
        assert!(live(Some(now + second), now));
        assert!(!live(Some(now), now));
        assert!(!live(Some(now - second), now));
    }
}
