//! The row per `(user_id, key)`: taken, renewed, finished, released.
//!
//! **The lock is the INSERT.** `INSERT … ON CONFLICT (user_id, key) DO NOTHING
//! RETURNING id` succeeds for exactly one request on either database, whichever
//! instance it reached; every other request with the key reads the row instead. The
//! row is committed before the work starts (an autocommit statement), so a repeat on
//! another instance sees it.
//!
//! **A request that dies.** The work runs detached from the connection
//! (`http::graphql::idempotent`), so a client that hangs up does not cut it: it ends
//! with [`finish`] (or [`release`], when nothing was changed). Only a process that dies
//! leaves a `running` row behind. Its lease (`locked_until`, [`super::LEASE`] after the
//! last renewal; the request renews every [`super::HEARTBEAT`] however long it runs)
//! runs out, and the next repeat takes the row over: `attempt + 1`, conditional on the
//! attempt it read, so two repeats cannot both take it. The dead attempt's writes are
//! fenced by `attempt`: were it only slow (a database unreachable for a whole lease), its
//! late answer is not stored over the new one. What a dead request committed before
//! dying is not undone: a mutation's own transaction rolls back with the process, and a
//! request that committed and died before [`finish`] (a window of one statement) is done
//! again by the repeat — the one case where the work can happen twice.
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Statement,
};

use super::{Fingerprint, Key, LEASE, TTL};
use crate::{
    engine::sql,
    entities::idempotency_keys::{self, Column},
    error::{AppError, AppResult},
    time,
};

const RUNNING: &str = "running";
const DONE: &str = "done";

/// This request holds the key: it does the work and stores the answer.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub id: i64,
    pub attempt: i32,
}

/// The first answer, to replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    /// `None`: the answer was larger than the kept maximum and was not kept.
    pub body: Option<String>,
}

/// What a request with a key is to do.
#[derive(Debug)]
pub enum Begin {
    /// Do the work (first use of the key, an expired key, or a dead request's key).
    Run(Attempt),
    /// Answer with the first answer.
    Replay(Answer),
    /// The key was used for a different request.
    Differs,
    /// The first request with the key is still running.
    Running,
}

fn later(now: DateTime<Utc>, by: std::time::Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX)
}

/// Takes `key` for this request, or says what to answer instead.
pub async fn begin(
    db: &DatabaseConnection,
    user_id: i32,
    key: &Key,
    fingerprint: &Fingerprint,
) -> AppResult<Begin> {
    let backend = db.get_database_backend();
    // Three rounds: each lost race means another request changed the row meanwhile
    // (inserted, took it over, or the sweep deleted it); reading it again decides.
    for _ in 0..3 {
        let now = time::now();
        let insert = Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "INSERT INTO idempotency_keys (user_id, key, fingerprint, state, attempt, \
                 locked_until, created_at, expires_at) VALUES ($1, $2, $3, $4, 1, $5, $6, $7) \
                 ON CONFLICT (user_id, key) DO NOTHING RETURNING id",
            ),
            [
                user_id.into(),
                key.as_str().into(),
                fingerprint.as_str().into(),
                RUNNING.into(),
                later(now, LEASE).into(),
                now.into(),
                later(now, TTL).into(),
            ],
        );
        if let Some(row) = db.query_one_raw(insert).await? {
            let id: i64 = row.try_get("", "id")?;
            return Ok(Begin::Run(Attempt { id, attempt: 1 }));
        }
        let Some(row) = idempotency_keys::Entity::find()
            .filter(Column::UserId.eq(user_id))
            .filter(Column::Key.eq(key.as_str()))
            .one(db)
            .await?
        else {
            continue; // swept between the two statements
        };
        if row.expires_at <= now {
            // Forgotten: the key is new again.
            if take_over(db, &row, fingerprint, now, true).await? {
                return Ok(Begin::Run(Attempt {
                    id: row.id,
                    attempt: row.attempt + 1,
                }));
            }
            continue;
        }
        if row.fingerprint != fingerprint.as_str() {
            return Ok(Begin::Differs);
        }
        if row.state == DONE {
            return Ok(Begin::Replay(Answer {
                status: row
                    .status
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(500),
                content_type: row.content_type.unwrap_or_default(),
                body: row.body,
            }));
        }
        if row.locked_until.is_some_and(|until| until < now) {
            // Its request died with its process: this repeat does the work.
            if take_over(db, &row, fingerprint, now, false).await? {
                return Ok(Begin::Run(Attempt {
                    id: row.id,
                    attempt: row.attempt + 1,
                }));
            }
            continue;
        }
        return Ok(Begin::Running);
    }
    Ok(Begin::Running)
}

/// Makes `row` this request's, if it is still as read. `fresh`: the key had expired,
/// so it starts a new life (new fingerprint, new expiry).
async fn take_over(
    db: &DatabaseConnection,
    row: &idempotency_keys::Model,
    fingerprint: &Fingerprint,
    now: DateTime<Utc>,
    fresh: bool,
) -> AppResult<bool> {
    let backend = db.get_database_backend();
    let (created, expires) = if fresh {
        (now, later(now, TTL))
    } else {
        (row.created_at, row.expires_at)
    };
    let stmt = Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE idempotency_keys SET fingerprint = $1, state = $2, attempt = attempt + 1, \
             locked_until = $3, status = NULL, content_type = NULL, body = NULL, \
             created_at = $4, expires_at = $5 WHERE id = $6 AND attempt = $7",
        ),
        [
            fingerprint.as_str().into(),
            RUNNING.into(),
            later(now, LEASE).into(),
            created.into(),
            expires.into(),
            row.id.into(),
            row.attempt.into(),
        ],
    );
    Ok(db.execute_raw(stmt).await?.rows_affected() == 1)
}

/// Renews the attempt's lease; `false` when it is no longer this attempt's.
pub async fn renew(db: &DatabaseConnection, attempt: &Attempt) -> AppResult<bool> {
    let backend = db.get_database_backend();
    let stmt = Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE idempotency_keys SET locked_until = $1 \
             WHERE id = $2 AND attempt = $3 AND state = $4",
        ),
        [
            later(time::now(), LEASE).into(),
            attempt.id.into(),
            attempt.attempt.into(),
            RUNNING.into(),
        ],
    );
    Ok(db.execute_raw(stmt).await?.rows_affected() == 1)
}

/// Stores the answer (`body` `None` when too large to keep); `false` when the row is no
/// longer this attempt's.
pub async fn finish(
    db: &DatabaseConnection,
    attempt: &Attempt,
    status: u16,
    content_type: &str,
    body: Option<&str>,
) -> AppResult<bool> {
    let backend = db.get_database_backend();
    let stmt = Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE idempotency_keys SET state = $1, status = $2, content_type = $3, body = $4, \
             locked_until = NULL WHERE id = $5 AND attempt = $6 AND state = $7",
        ),
        [
            DONE.into(),
            i16::try_from(status).map_err(AppError::internal)?.into(),
            content_type.into(),
            body.map(str::to_owned).into(),
            attempt.id.into(),
            attempt.attempt.into(),
            RUNNING.into(),
        ],
    );
    Ok(db.execute_raw(stmt).await?.rows_affected() == 1)
}

/// Gives the key back: the request changed nothing (cut before its first mutation
/// field began, or refused with "retry later"), so a repeat is a first request.
pub async fn release(db: &DatabaseConnection, attempt: &Attempt) -> AppResult<()> {
    let backend = db.get_database_backend();
    let stmt = Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "DELETE FROM idempotency_keys WHERE id = $1 AND attempt = $2 AND state = $3",
        ),
        [attempt.id.into(), attempt.attempt.into(), RUNNING.into()],
    );
    db.execute_raw(stmt).await?;
    Ok(())
}
