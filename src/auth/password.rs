//! argon2id hashing, run on the blocking pool so a hash never stalls the runtime.
use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};

use crate::error::{AppError, AppResult};

pub const MIN_PASSWORD_LEN: usize = 8;
pub const MAX_PASSWORD_LEN: usize = 256;

pub fn validate(password: &str) -> AppResult<()> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(AppError::bad_input(
            "password",
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(AppError::bad_input(
            "password",
            format!("must be at most {MAX_PASSWORD_LEN} characters"),
        ));
    }
    no_control_chars("password", password)
}

/// Control characters have no place in a credential (and NUL is refused by PostgreSQL).
pub fn no_control_chars(field: &str, value: &str) -> AppResult<()> {
    if value.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

fn hash_blocking(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(std::io::Error::other(e.to_string())))
}

fn verify_blocking(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

pub async fn hash(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(AppError::internal)?
}

/// Bounds how many hashes run at once: each argon2 hash holds ~19 MiB for its duration,
/// so an unbounded login storm turns straight into memory. A few callers may wait in a
/// short queue; the rest are told to come back (`SERVICE_UNAVAILABLE` + `Retry-After`)
/// instead of piling up.
pub struct HashPool {
    permits: Arc<Semaphore>,
    queue: usize,
    waiting: AtomicUsize,
    verified: AtomicU64,
}

/// The longest a queued caller waits for a free slot.
const QUEUE_WAIT: Duration = Duration::from_secs(5);

impl HashPool {
    /// `concurrency` hashes at once (0: one per core), `queue` callers waiting.
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            concurrency
        };
        HashPool {
            permits: Arc::new(Semaphore::new(concurrency)),
            queue,
            waiting: AtomicUsize::new(0),
            verified: AtomicU64::new(0),
        }
    }

    fn busy() -> AppError {
        AppError::Unavailable("too many sign-ins at once; retry shortly".into())
    }

    async fn permit(&self) -> AppResult<OwnedSemaphorePermit> {
        if let Ok(p) = self.permits.clone().try_acquire_owned() {
            return Ok(p);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Self::busy());
        }
        let permit = tokio::time::timeout(QUEUE_WAIT, self.permits.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match permit {
            Ok(Ok(p)) => Ok(p),
            _ => Err(Self::busy()),
        }
    }

    /// The permit moves into the blocking task, so a slot stays taken until the hash is
    /// really done even if the request is dropped meanwhile.
    pub async fn hash(&self, password: String) -> AppResult<String> {
        let permit = self.permit().await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            hash_blocking(&password)
        })
        .await
        .map_err(AppError::internal)?
    }

    pub async fn verify(&self, hash: String, password: String) -> AppResult<bool> {
        let permit = self.permit().await?;
        self.verified.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            verify_blocking(&hash, &password)
        })
        .await
        .map_err(AppError::internal)
    }

    /// How many passwords this pool has verified (evidence for the throttle's tests).
    pub fn verifications(&self) -> u64 {
        self.verified.load(Ordering::Relaxed)
    }
}

/// A hash of nothing anyone knows: verified when the user is unknown, so that an unknown
/// username costs the same time as a wrong password.
pub async fn dummy_hash(pool: &HashPool) -> AppResult<String> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h.clone());
    }
    let h = pool.hash(crate::auth::tokens::random_token()).await?;
    Ok(DUMMY.get_or_init(|| h).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash_blocking("correct horse").unwrap();
        let b = hash_blocking("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify_blocking(&a, "correct horse"));
        assert!(!verify_blocking(&a, "wrong horse"));
        assert!(!verify_blocking("not a hash", "correct horse"));
    }

    #[test]
    fn password_length_is_validated() {
        assert!(validate("1234567").is_err());
        assert!(validate("12345678").is_ok());
        assert!(validate(&"x".repeat(257)).is_err());
        let e = validate("short").unwrap_err();
        assert!(e.to_string().starts_with("password:"));
    }
}
