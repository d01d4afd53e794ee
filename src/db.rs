//! Connecting and migrating. The only place that knows which backend is in use.
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    RuntimeErr, Statement, TransactionTrait,
    sqlx::{self, Connection},
};

/// Connects with bounded waits: 5 s to connect or to get a pooled connection (a full pool
/// answers 503 instead of queueing forever) and, on PostgreSQL, a server-side
/// `statement_timeout`. Dropped connections (a database restart) are replaced by the
/// pool, which checks idle connections before handing them out.
pub async fn connect(
    url: &str,
    statement_timeout: Option<Duration>,
) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_file(url)
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("{}: {e}", dir.display())))?;
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(if url.starts_with("sqlite:") { 8 } else { 20 })
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(true)
        .sqlx_logging(false);
    if let Some(t) = statement_timeout {
        let ms = t.as_millis().to_string();
        opts.map_sqlx_postgres_opts(move |o| o.options([("statement_timeout", ms.clone())]));
    }
    let db = Database::connect(opts).await?;
    if db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        // WAL lets readers and a writer work at once and is a property of the file, so
        // setting it once is enough. sqlx already turns on foreign keys and a 5 s busy
        // timeout for every connection.
        db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
    }
    Ok(db)
}

/// `url` with its password replaced by `***`, to show which database is meant.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// A connection failure in words a person can act on: which `DATABASE_URL`, what went
/// wrong, what to do (the driver's text alone says "pool timed out").
///
/// The pool retries a refused connection until its timeout and then reports only the
/// timeout, so for PostgreSQL one direct connection is tried here to learn the cause:
/// a database that does not exist, a refused login, nothing listening, or no answer.
pub async fn explain(url: &str, err: &DbErr) -> String {
    let cause = if url.starts_with("postgres") {
        match tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(url)).await {
            Ok(Ok(conn)) => {
                conn.close().await.ok();
                None
            }
            Ok(Err(e)) => Some(e),
            Err(_) => Some(sqlx::Error::PoolTimedOut),
        }
    } else {
        None
    };
    describe(url, err, cause.as_ref())
}

/// The words of [`explain`], given the driver's own error for PostgreSQL when one
/// direct connection was refused (`cause`).
fn describe(url: &str, err: &DbErr, cause: Option<&sqlx::Error>) -> String {
    let shown = redacted(url);
    let detail = cause.map_or_else(|| err.to_string(), ToString::to_string);
    let hint = if let Some(path) = sqlite_file(url) {
        if url.contains("mode=rwc") {
            format!(
                "SQLite cannot open or create {path}: check that its directory exists and is \
                 writable by this user"
            )
        } else {
            format!(
                "SQLite cannot open {path}: to create the file, add `?mode=rwc` to DATABASE_URL \
                 (sqlite://{path}?mode=rwc), and check that its directory is writable"
            )
        }
    } else if url.starts_with("postgres") {
        postgres_hint(url, cause)
    } else {
        "use sqlite://FILE?mode=rwc or postgres://USER:PASSWORD@HOST:PORT/DATABASE".to_owned()
    };
    format!("cannot use the database DATABASE_URL={shown}: {hint} ({detail})")
}

/// What a PostgreSQL connection failure means, from the driver's error (SQLSTATE or the
/// socket's error); `None` or an unknown error keeps the general advice.
fn postgres_hint(url: &str, cause: Option<&sqlx::Error>) -> String {
    let (user, server, database) = postgres_parts(url);
    match cause {
        Some(sqlx::Error::Database(e)) => match e.code().as_deref() {
            Some("3D000") => format!(
                "the database \"{database}\" does not exist on {server}: create it \
                 (createdb {database}, or CREATE DATABASE {database}) or correct its name in \
                 DATABASE_URL"
            ),
            // invalid_password, invalid_authorization_specification (no pg_hba.conf entry)
            Some("28P01" | "28000") => format!(
                "{server} refused user \"{user}\": check the user and password in \
                 DATABASE_URL (and pg_hba.conf on the server)"
            ),
            _ => format!("{server} refused the connection"),
        },
        Some(sqlx::Error::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => format!(
            "connection refused at {server}: is PostgreSQL running there and listening on \
             that port?"
        ),
        Some(sqlx::Error::PoolTimedOut) => format!(
            "nothing answered within 5 s at {server}: is the host right and reachable (a \
             firewall that drops packets looks like this)?"
        ),
        _ => "is PostgreSQL running at that address, does the database exist (createdb), and \
              are user and password right?"
            .to_owned(),
    }
}

/// (user, host:port, database) of a `postgres://` URL, for messages; never the password.
fn postgres_parts(url: &str) -> (String, String, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, host) = authority.rsplit_once('@').unwrap_or(("", authority));
    let user = userinfo.split(':').next().unwrap_or_default();
    let host = if host.is_empty() { "localhost" } else { host };
    let server = if host.contains(':') && !host.ends_with(']') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    let user = if user.is_empty() { "(default)" } else { user };
    let database = if database.is_empty() { user } else { database };
    (user.to_owned(), server, database.to_owned())
}

/// Whether the database takes writes now: `/ready` asks, since a database that answers
/// reads but refuses every write (a read-only SQLite file, a PostgreSQL standby or
/// `default_transaction_read_only`) would otherwise look ready while every login fails.
///
/// SQLite: a write that matches no row, in a transaction that is rolled back. A file
/// opened read-only (SQLite falls back to that when it cannot open the file for writing)
/// or `PRAGMA query_only` refuses it with SQLITE_READONLY before any lock is waited for;
/// `BEGIN IMMEDIATE` alone is not enough, a read-only connection in WAL mode is granted
/// it. While another connection writes, the probe waits as any write would.
/// PostgreSQL: `transaction_read_only` of a statement outside a transaction, which is
/// `default_transaction_read_only`, or on by force during recovery (a hot standby);
/// reading one setting takes no lock and starts no write.
pub async fn writable(db: &DatabaseConnection) -> Result<bool, DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            let txn = db.begin().await?;
            // The migrations' own table: it exists wherever the server runs.
            let probe = txn
                .execute_unprepared("DELETE FROM seaql_migrations WHERE 0")
                .await;
            txn.rollback().await?;
            match probe {
                Ok(_) => Ok(true),
                Err(e) if sqlite_read_only(&e) => Ok(false),
                Err(e) => Err(e),
            }
        }
        backend => {
            let row = db
                .query_one_raw(Statement::from_string(
                    backend,
                    "SELECT current_setting('transaction_read_only') AS ro",
                ))
                .await?
                .ok_or_else(|| DbErr::Custom("transaction_read_only: no row".into()))?;
            Ok(row.try_get::<String>("", "ro")? != "on")
        }
    }
}

/// SQLITE_READONLY, whatever its extended code (the primary code is the low byte).
fn sqlite_read_only(err: &DbErr) -> bool {
    let (DbErr::Conn(RuntimeErr::SqlxError(e))
    | DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))) = err
    else {
        return false;
    };
    match e.as_ref() {
        sqlx::Error::Database(d) => d
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| c & 0xff == 8),
        _ => false,
    }
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_file_paths_are_found() {
        assert_eq!(
            super::sqlite_file("sqlite://data/x.db?mode=rwc"),
            Some("data/x.db")
        );
        assert_eq!(super::sqlite_file("sqlite::memory:"), None);
        assert_eq!(super::sqlite_file("postgres://x"), None);
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            super::redacted("postgres://app:s3cret@db:5432/dc?sslmode=disable"),
            "postgres://app:***@db:5432/dc?sslmode=disable"
        );
        assert_eq!(
            super::redacted("postgres://postgres@127.0.0.1/dc"),
            "postgres://postgres@127.0.0.1/dc"
        );
        assert_eq!(
            super::redacted("sqlite://data/x.db?mode=rwc"),
            "sqlite://data/x.db?mode=rwc"
        );
    }

    #[test]
    fn connection_errors_name_database_url_and_what_to_do() {
        let err = sea_orm::DbErr::Custom("unable to open database file".into());
        let text = super::describe("sqlite://nope/x.db", &err, None);
        assert!(text.contains("DATABASE_URL=sqlite://nope/x.db"), "{text}");
        assert!(text.contains("mode=rwc"), "{text}");
        let text = super::describe("postgres://u:pw@127.0.0.1:1/dc", &err, None);
        assert!(
            text.contains("DATABASE_URL=postgres://u:***@127.0.0.1:1/dc"),
            "{text}"
        );
        assert!(text.contains("is PostgreSQL running"), "{text}");
        assert!(!text.contains("pw@"), "{text}");
    }

    #[test]
    fn postgres_urls_are_read_for_messages() {
        assert_eq!(
            super::postgres_parts("postgres://app:pw@db:6432/dc?sslmode=disable"),
            ("app".into(), "db:6432".into(), "dc".into())
        );
        assert_eq!(
            super::postgres_parts("postgresql://app@db"),
            ("app".into(), "db:5432".into(), "app".into())
        );
        assert_eq!(
            super::postgres_parts("postgres://[::1]/dc"),
            ("(default)".into(), "[::1]:5432".into(), "dc".into())
        );
    }

    #[test]
    fn a_refused_connection_is_told_from_a_silent_host() {
        let err = sea_orm::DbErr::Custom("pool timed out".into());
        let url = "postgres://u:pw@127.0.0.1:1/dc";
        let refused = sea_orm::sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        let text = super::describe(url, &err, Some(&refused));
        assert!(text.contains("connection refused at 127.0.0.1:1"), "{text}");
        let silent = super::describe(url, &err, Some(&sea_orm::sqlx::Error::PoolTimedOut));
        assert!(silent.contains("nothing answered"), "{silent}");
        assert!(!text.contains("pw"), "{text}");
    }
}
