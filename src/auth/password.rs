//! argon2id hashing, run on the blocking pool so a hash never stalls the runtime.
use crate::i18n::Msg;
use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::sync::oneshot;

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
        return Err(AppError::BadUserInput(Msg::AtLeastChars {
            field: "password".into(),
            min: MIN_PASSWORD_LEN,
        }));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(AppError::BadUserInput(Msg::AtMostChars {
            field: "password".into(),
            max: MAX_PASSWORD_LEN,
        }));
    }
    no_control_chars("password", password)
}

/// Control characters have no place in a credential (and NUL is refused by PostgreSQL).
pub fn no_control_chars(field: &str, value: &str) -> AppResult<()> {
    if value.chars().any(char::is_control) {
        return Err(AppError::BadUserInput(Msg::NoControlChars {
            field: field.into(),
        }));
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

/// Which queue a caller waits in when every hashing slot is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// A known user's first attempt from its address in the current window: served
    /// before anything waiting in [`Lane::Other`].
    First,
    /// Everything else: unknown usernames, repeated attempts, new passwords.
    Other,
}

/// Bounds how many hashes run at once: each argon2 hash holds ~19 MiB for its duration,
/// so an unbounded login storm turns straight into memory. A few callers may wait in a
/// short queue per [`Lane`]; the rest are told to come back (`SERVICE_UNAVAILABLE` +
/// `Retry-After`) instead of piling up. A freed slot goes to the first lane's oldest
/// waiter, then to the other's: a flood of guesses at unknown usernames from many
/// addresses fills only its own queue, and a real user's sign-in still gets the next
/// slot (issue 19: 19 of 21 legitimate logins were turned away during such a flood).
///
/// Hand-written (a mutex, two queues of oneshot senders) because tokio's `Semaphore`
/// is strictly first-come and no well-kept crate offers a bounded two-class semaphore.
pub struct HashPool {
    slots: Arc<Slots>,
    queue: usize,
    verified: AtomicU64,
}

struct Slots {
    state: Mutex<SlotState>,
}

struct SlotState {
    free: usize,
    first: VecDeque<oneshot::Sender<Permit>>,
    other: VecDeque<oneshot::Sender<Permit>>,
}

/// A hashing slot; dropping it hands the slot to the next waiter (or frees it).
pub struct Permit {
    slots: Arc<Slots>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let slots = self.slots.clone();
        loop {
            let next = {
                let mut st = slots.lock();
                match st.first.pop_front().or_else(|| st.other.pop_front()) {
                    Some(tx) => tx,
                    None => {
                        st.free += 1;
                        return;
                    }
                }
            };
            // A waiter that gave up (timed out, request dropped) refuses the slot: the
            // permit comes back and goes to the next one, without dropping it (that
            // would recurse into this function).
            match next.send(Permit {
                slots: slots.clone(),
            }) {
                Ok(()) => return,
                Err(unwanted) => std::mem::forget(unwanted),
            }
        }
    }
}

impl Slots {
    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The longest a queued caller waits for a free slot.
const QUEUE_WAIT: Duration = Duration::from_secs(5);

impl HashPool {
    /// `concurrency` hashes at once (0: one per core), `queue` callers waiting per lane.
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            concurrency
        };
        HashPool {
            slots: Arc::new(Slots {
                state: Mutex::new(SlotState {
                    free: concurrency,
                    first: VecDeque::new(),
                    other: VecDeque::new(),
                }),
            }),
            queue,
            verified: AtomicU64::new(0),
        }
    }

    fn busy() -> AppError {
        AppError::Unavailable(Msg::TooManySignIns)
    }

    async fn permit(&self, lane: Lane) -> AppResult<Permit> {
        let rx = {
            let mut st = self.slots.lock();
            if st.free > 0 {
                st.free -= 1;
                return Ok(Permit {
                    slots: self.slots.clone(),
                });
            }
            let waiting = match lane {
                Lane::First => &mut st.first,
                Lane::Other => &mut st.other,
            };
            // Waiters that gave up are still queued until a release skips them.
            waiting.retain(|tx| !tx.is_closed());
            if waiting.len() >= self.queue {
                return Err(Self::busy());
            }
            let (tx, rx) = oneshot::channel();
            waiting.push_back(tx);
            rx
        };
        match tokio::time::timeout(QUEUE_WAIT, rx).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(Self::busy()),
        }
    }

    /// The permit moves into the blocking task, so a slot stays taken until the hash is
    /// really done even if the request is dropped meanwhile.
    pub async fn hash(&self, password: String) -> AppResult<String> {
        let permit = self.permit(Lane::Other).await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            hash_blocking(&password)
        })
        .await
        .map_err(AppError::internal)?
    }

    pub async fn verify(&self, hash: String, password: String, lane: Lane) -> AppResult<bool> {
        let permit = self.permit(lane).await?;
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
/// username costs the same time as a wrong password. Made once per process: concurrent
/// first callers wait for the one computation (a `OnceLock` let each of a first burst
/// compute its own).
pub async fn dummy_hash(pool: &HashPool) -> AppResult<String> {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_try_init(|| pool.hash(crate::auth::tokens::random_token()))
        .await
        .cloned()
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

    /// A freed slot goes to the first lane before the other, and each lane's queue is
    /// bounded on its own: a full other-lane queue does not turn a first attempt away.
    #[tokio::test]
    async fn the_first_lane_is_served_first_and_queues_are_bounded_per_lane() {
        let pool = Arc::new(HashPool::new(1, 2));
        let held = pool.permit(Lane::Other).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for (name, lane) in [
            ("o1", Lane::Other),
            ("o2", Lane::Other),
            ("f1", Lane::First),
        ] {
            let (pool, order) = (pool.clone(), order.clone());
            waiters.push(tokio::spawn(async move {
                let p = pool.permit(lane).await.unwrap();
                order.lock().unwrap().push(name);
                drop(p);
            }));
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The other lane is full (2 waiting): one more there is turned away.
        assert!(matches!(
            pool.permit(Lane::Other).await,
            Err(AppError::Unavailable(_))
        ));
        drop(held);
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["f1", "o1", "o2"]);
        // Every slot came back.
        assert_eq!(pool.slots.lock().free, 1);
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
