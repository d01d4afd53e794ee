//! The login failure budget, kept in the database.
//!
//! Every attempt *reserves* one unit of budget before the password is verified, with one
//! atomic upsert per attempt (`INSERT … ON CONFLICT (key) DO UPDATE SET attempts =
//! attempts + 1 … RETURNING`), so N concurrent guesses spend N and no check-then-act gap
//! lets a burst through. The budget lives in the `login_attempts` table rather than in
//! process memory so that every server instance on one database shares it (issue 13:
//! several instances behind one load balancer must not multiply the limit).
//!
//! Three keys, after OWASP's Authentication Cheat Sheet ("lock out per account *and*
//! source, so an attacker cannot lock out a victim"):
//! - `ua:<address>|<username>` — the tight limit (`LOGIN_MAX_FAILURES`): guessing one
//!   account from one address;
//! - `u:<username>` — a much higher limit (`LOGIN_MAX_FAILURES_PER_USER`) against guessing
//!   one account from many addresses; a stranger on one address cannot reach it, because
//!   refused attempts cost nothing and that address is stopped by the first key;
//! - `a:<address>` — (`LOGIN_MAX_FAILURES_PER_ADDRESS`) against one address trying many
//!   accounts.
//!
//! Each key counts in a fixed window (`LOGIN_LOCKOUT_SECS`) that starts with its first
//! attempt; a refused request answers `RATE_LIMITED` with the seconds left in the window.
//!
//! Only failures are limited, not attempts (API.md): a key also counts its `pending`
//! attempts (reserved, still being verified), and an attempt is refused only when the
//! key's *settled failures* (`attempts - pending`) reach the limit. One that is over the
//! limit only because others are in flight waits for them to settle (polling with
//! backoff, at most [`IN_FLIGHT_WAIT`]): twelve simultaneous correct logins of one user
//! all get in, while a hundred simultaneous guesses still verify exactly the limit.
//! `governor` and similar crates keep their state in memory, hence hand-written.
use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

use crate::{
    entities::login_attempts::{self, Column},
    error::{AppError, AppResult},
    time::unix_now,
};

/// How many reservations pass between two sweeps of expired rows.
const SWEEP_EVERY: u32 = 256;
/// The longest an attempt waits for others in flight to settle: the hashing queue's own
/// wait plus a verification.
pub const IN_FLIGHT_WAIT: Duration = Duration::from_secs(6);

/// What one reservation round found.
enum Round {
    Reserved(Reservation),
    /// Settled failures reached a limit: the seconds left in that window.
    Refused(i64),
    /// Over a limit only because of attempts in flight.
    Busy,
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub per_user_address: u32,
    pub per_user: u32,
    pub per_address: u32,
    pub window: Duration,
}

pub struct LoginThrottle {
    limits: Limits,
    reservations: AtomicU32,
}

/// Budget reserved for one attempt that is being verified.
#[must_use = "a reservation is settled with `failed`, `succeeded` or `refund`"]
pub struct Reservation {
    pair: String,
    others: [String; 2],
    /// No other attempt of this (address, username) in the current window.
    first: bool,
}

impl Reservation {
    /// Whether this is the first attempt of its (address, username) pair in the window
    /// (the hashing pool serves a known user's first attempt first).
    pub fn first_from_here(&self) -> bool {
        self.first
    }
}

fn normalize(username: &str) -> String {
    username.trim().to_lowercase()
}

impl LoginThrottle {
    pub fn new(limits: Limits) -> Self {
        LoginThrottle {
            limits,
            reservations: AtomicU32::new(0),
        }
    }

    fn keys(username: &str, addr: &str) -> [(String, u32); 3] {
        let user = normalize(username);
        [
            (format!("a:{addr}"), 0),
            (format!("u:{user}"), 1),
            (format!("ua:{addr}|{user}"), 2),
        ]
    }

    fn limit(&self, slot: u32) -> u32 {
        match slot {
            0 => self.limits.per_address,
            1 => self.limits.per_user,
            _ => self.limits.per_user_address,
        }
    }

    /// Spends one unit of every key's budget, or refuses (spending nothing) when any key's
    /// settled failures reached its limit. Over a limit only because of attempts in
    /// flight, it waits for them (backoff from 25 ms to 400 ms, at most
    /// [`IN_FLIGHT_WAIT`], then `RATE_LIMITED` with one second).
    pub async fn reserve(
        &self,
        db: &impl ConnectionTrait,
        username: &str,
        addr: &str,
    ) -> AppResult<Reservation> {
        // Once per attempt, not per round of waiting for attempts in flight.
        let now = i64::try_from(unix_now()).map_err(AppError::internal)?;
        let window = i64::try_from(self.limits.window.as_secs()).map_err(AppError::internal)?;
        self.sweep(db, now - window).await;
        let deadline = Instant::now() + IN_FLIGHT_WAIT;
        let mut pause = Duration::from_millis(25);
        loop {
            match self.round(db, username, addr).await? {
                Round::Reserved(r) => return Ok(r),
                Round::Refused(secs) => {
                    return Err(AppError::RateLimited {
                        retry_after: u64::try_from(secs).unwrap_or(1),
                    });
                }
                Round::Busy if Instant::now() + pause > deadline => {
                    return Err(AppError::RateLimited { retry_after: 1 });
                }
                Round::Busy => {
                    tokio::time::sleep(pause).await;
                    pause = Ord::min(pause * 2, Duration::from_millis(400));
                }
            }
        }
    }

    async fn round(
        &self,
        db: &impl ConnectionTrait,
        username: &str,
        addr: &str,
    ) -> AppResult<Round> {
        let now = i64::try_from(unix_now()).map_err(AppError::internal)?;
        let window = i64::try_from(self.limits.window.as_secs()).map_err(AppError::internal)?;
        let keys = Self::keys(username, addr);
        let stale = Expr::col((login_attempts::Entity, Column::WindowStart)).lte(now - window);
        let mut insert = Query::insert();
        insert.into_table(login_attempts::Entity).columns([
            Column::Key,
            Column::Attempts,
            Column::Pending,
            Column::WindowStart,
        ]);
        // Keys in one fixed order in every statement, so two upserts never wait on each
        // other's rows in opposite orders (no deadlock on PostgreSQL).
        for (key, _) in &keys {
            insert
                .values([key.as_str().into(), 1.into(), 1.into(), now.into()])
                .map_err(AppError::internal)?;
        }
        let plus_one = |c: Column| {
            Expr::case(stale.clone(), 1).finally(Expr::col((login_attempts::Entity, c)).add(1))
        };
        insert
            .on_conflict(
                OnConflict::column(Column::Key)
                    .value(Column::Attempts, plus_one(Column::Attempts))
                    .value(Column::Pending, plus_one(Column::Pending))
                    .value(
                        Column::WindowStart,
                        Expr::case(stale.clone(), now)
                            .finally(Expr::col((login_attempts::Entity, Column::WindowStart))),
                    )
                    .to_owned(),
            )
            .returning(Query::returning().columns([
                Column::Key,
                Column::Attempts,
                Column::Pending,
                Column::WindowStart,
            ]));
        let rows = db.query_all(&insert).await?;
        let mut retry_after: Option<i64> = None;
        let mut busy = false;
        let mut first = false;
        for row in rows {
            let key: String = row.try_get("", "key")?;
            let attempts: i32 = row.try_get("", "attempts")?;
            let pending: i32 = row.try_get("", "pending")?;
            let start: i64 = row.try_get("", "window_start")?;
            let Some((_, slot)) = keys.iter().find(|(k, _)| *k == key) else {
                continue;
            };
            let limit = i64::from(self.limit(*slot));
            if *slot == 2 {
                first = attempts == 1;
            }
            let failures = i64::from(attempts) - i64::from(pending);
            if failures >= limit {
                let left = Ord::max(start + window - now, 1);
                retry_after = Some(retry_after.map_or(left, |r| Ord::max(r, left)));
            } else if i64::from(attempts) > limit {
                busy = true;
            }
        }
        let [(a, _), (u, _), (ua, _)] = keys;
        let reservation = Reservation {
            pair: ua,
            others: [a, u],
            first,
        };
        if retry_after.is_some() || busy {
            // Not verified, so it costs nothing: otherwise a stranger hammering from one
            // address would drain the account's global budget.
            self.refund(db, reservation).await?;
            return Ok(match retry_after {
                Some(secs) => Round::Refused(secs),
                None => Round::Busy,
            });
        }
        Ok(Round::Reserved(reservation))
    }

    /// The password was wrong: the attempt stays counted as a failure, no longer pending.
    pub async fn failed(&self, db: &impl ConnectionTrait, r: Reservation) -> AppResult<()> {
        let Reservation { pair, others, .. } = r;
        let [a, u] = others;
        settle(db, vec![a, u, pair], false).await
    }

    /// Gives the reservation back (the password was never verified, e.g. overload).
    pub async fn refund(&self, db: &impl ConnectionTrait, r: Reservation) -> AppResult<()> {
        let Reservation { pair, others, .. } = r;
        let [a, u] = others;
        // The order of `keys`: a, u, ua.
        settle(db, vec![a, u, pair], true).await
    }

    /// The right password from this address: its (username, address) failures start
    /// over (the other attempts still in flight stay counted as such), and the global
    /// keys get this attempt back. Earlier failures on the global keys stay: a success
    /// must not hand an attacker a fresh budget for the account.
    pub async fn succeeded(&self, db: &impl ConnectionTrait, r: Reservation) -> AppResult<()> {
        let Reservation { pair, others, .. } = r;
        let pending = Expr::col((login_attempts::Entity, Column::Pending));
        let others_in_flight: sea_orm::sea_query::SimpleExpr =
            Expr::case(pending.clone().gt(0), pending.sub(1))
                .finally(0)
                .into();
        // Both right-hand sides read the row as it was.
        login_attempts::Entity::update_many()
            .col_expr(Column::Attempts, others_in_flight.clone())
            .col_expr(Column::Pending, others_in_flight)
            .filter(Column::Key.eq(pair))
            .exec(db)
            .await?;
        settle(db, others.to_vec(), true).await
    }

    /// Deletes rows whose window has passed, now and then (never in the way of a login).
    async fn sweep(&self, db: &impl ConnectionTrait, expired_at: i64) {
        if !self
            .reservations
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            return;
        }
        if let Err(e) = login_attempts::Entity::delete_many()
            .filter(Column::WindowStart.lte(expired_at))
            .exec(db)
            .await
        {
            tracing::warn!(error = %e, "could not sweep expired login attempts");
        }
    }
}

/// Settles one pending attempt on each key, giving its unit back too when `give_back`
/// (success, refund) and keeping it as a failure otherwise. An upsert (not `UPDATE …
/// WHERE key IN …`) so rows are locked in the same order as by `reserve`, whatever plan
/// PostgreSQL picks: no deadlock.
async fn settle(db: &impl ConnectionTrait, keys: Vec<String>, give_back: bool) -> AppResult<()> {
    let now = i64::try_from(unix_now()).map_err(AppError::internal)?;
    let mut upsert = Query::insert();
    upsert.into_table(login_attempts::Entity).columns([
        Column::Key,
        Column::Attempts,
        Column::Pending,
        Column::WindowStart,
    ]);
    for key in keys {
        upsert
            .values([key.into(), 0.into(), 0.into(), now.into()])
            .map_err(AppError::internal)?;
    }
    let minus_one = |c: Column| {
        let current = Expr::col((login_attempts::Entity, c));
        Expr::case(current.clone().gt(0), current.sub(1)).finally(0)
    };
    let mut on_conflict = OnConflict::column(Column::Key);
    on_conflict.value(Column::Pending, minus_one(Column::Pending));
    if give_back {
        on_conflict.value(Column::Attempts, minus_one(Column::Attempts));
    }
    upsert.on_conflict(on_conflict.to_owned());
    db.execute(&upsert).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
