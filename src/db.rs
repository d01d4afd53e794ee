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
}
