//! Connecting and migrating. The only place that knows which backend is in use.
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};

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

/// A connection failure in words a person can act on: which `DATABASE_URL`, what
/// probably went wrong, what to do (the driver's text alone says "pool timed out").
pub fn explain(url: &str, err: &DbErr) -> String {
    let shown = redacted(url);
    let detail = err.to_string();
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
        "nothing answered in time, or the server refused: is PostgreSQL running at that \
         address, does the database exist (createdb), and are user and password right?"
            .to_owned()
    } else {
        "use sqlite://FILE?mode=rwc or postgres://USER:PASSWORD@HOST:PORT/DATABASE".to_owned()
    };
    format!("cannot use the database DATABASE_URL={shown}: {hint} ({detail})")
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
        let text = super::explain("sqlite://nope/x.db", &err);
        assert!(text.contains("DATABASE_URL=sqlite://nope/x.db"), "{text}");
        assert!(text.contains("mode=rwc"), "{text}");
        let text = super::explain("postgres://u:pw@127.0.0.1:1/dc", &err);
        assert!(
            text.contains("DATABASE_URL=postgres://u:***@127.0.0.1:1/dc"),
            "{text}"
        );
        assert!(text.contains("is PostgreSQL running"), "{text}");
        assert!(!text.contains("pw@"), "{text}");
    }
}
