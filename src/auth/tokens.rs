//! Access tokens (JWT, HS256 pinned) and opaque refresh tokens (stored hashed).
use crate::i18n::Msg;
use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    error::{AppError, AppResult},
    time::unix_now,
};

pub const ISSUER: &str = "defect-control";
pub const AUDIENCE: &str = "defect-control-api";
const ACCESS_TYPE: &str = "access";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub typ: String,
    /// The login session (refresh family) the token belongs to: the viewer lookup checks
    /// it is still live, so revoking a family stops its access tokens at once.
    pub sid: String,
}

/// Who a valid access token speaks for.
#[derive(Debug, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: i32,
    pub session: String,
}

pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Raw key material for other HMAC uses (signed download links).
    secret: Vec<u8>,
}

impl Keys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            secret: secret.to_vec(),
        }
    }

    /// A per-process random key, for development when `JWT_SECRET` is unset.
    pub fn random() -> Self {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        Self::new(&secret)
    }

    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    pub fn issue_access(&self, user_id: i32, session: &str, ttl: Duration) -> AppResult<String> {
        let now = unix_now();
        let claims = Claims {
            sub: user_id.to_string(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp: now + ttl.as_secs(),
            typ: ACCESS_TYPE.into(),
            sid: session.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)
    }

    /// The user and session of a valid access token. Every failure is the same
    /// UNAUTHENTICATED.
    pub fn verify_access(&self, token: &str) -> AppResult<AccessClaims> {
        let invalid = || AppError::Unauthenticated(Msg::BadToken);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| invalid())?;
        if data.claims.typ != ACCESS_TYPE {
            return Err(invalid());
        }
        Ok(AccessClaims {
            user_id: data.claims.sub.parse().map_err(|_| invalid())?,
            session: data.claims.sid,
        })
    }
}

impl Keys {
    /// When a valid access token expires (seconds since the epoch): a WebSocket
    /// authenticated with it is closed then.
    pub fn access_expiry(&self, token: &str) -> Option<u64> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        (data.claims.typ == ACCESS_TYPE).then_some(data.claims.exp)
    }
}

/// 256 random bits, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database stores of a refresh token.
pub fn hash_refresh(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::new(b"0123456789abcdef0123456789abcdef")
    }

    fn forge(claims: &Claims, alg: Algorithm, secret: &[u8]) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    fn claims() -> Claims {
        let now = unix_now();
        Claims {
            sub: "7".into(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp: now + 60,
            typ: ACCESS_TYPE.into(),
            sid: "s1".into(),
        }
    }

    #[test]
    fn access_tokens_round_trip() {
        let k = keys();
        let t = k.issue_access(7, "fam", Duration::from_secs(60)).unwrap();
        assert_eq!(
            k.verify_access(&t).unwrap(),
            AccessClaims {
                user_id: 7,
                session: "fam".into()
            }
        );
    }

    #[test]
    fn wrong_type_issuer_audience_or_key_is_refused() {
        let k = keys();
        let secret = b"0123456789abcdef0123456789abcdef";
        let mut c = claims();
        c.typ = "refresh".into();
        assert!(
            k.verify_access(&forge(&c, Algorithm::HS256, secret))
                .is_err()
        );
        let mut c = claims();
        c.iss = "someone-else".into();
        assert!(
            k.verify_access(&forge(&c, Algorithm::HS256, secret))
                .is_err()
        );
        let mut c = claims();
        c.aud = "other-api".into();
        assert!(
            k.verify_access(&forge(&c, Algorithm::HS256, secret))
                .is_err()
        );
        assert!(
            k.verify_access(&forge(
                &claims(),
                Algorithm::HS256,
                b"another-secret-another-secret!!"
            ))
            .is_err()
        );
        // The algorithm is pinned: HS512 with the right key is still refused.
        assert!(
            k.verify_access(&forge(&claims(), Algorithm::HS512, secret))
                .is_err()
        );
    }

    #[test]
    fn expired_tokens_are_refused() {
        let mut c = claims();
        c.exp = unix_now() - 120;
        let t = forge(&c, Algorithm::HS256, b"0123456789abcdef0123456789abcdef");
        assert!(keys().verify_access(&t).is_err());
    }

    #[test]
    fn alg_none_is_refused() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims()).unwrap());
        assert!(keys().verify_access(&format!("{header}.{body}.")).is_err());
        assert!(keys().verify_access(&format!("{header}.{body}")).is_err());
    }

    #[test]
    fn garbage_is_refused() {
        for t in ["", "abc", "a.b.c", "Bearer x", &"x".repeat(5000)] {
            assert!(keys().verify_access(t).is_err());
        }
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = random_token();
        assert_ne!(a, random_token());
        assert_eq!(hash_refresh(&a).len(), 64);
        assert_ne!(hash_refresh(&a), a);
    }
}
