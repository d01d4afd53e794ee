use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Reports group every visible defect by status and priority (and project or performer).
/// On PostgreSQL a covering index turns that into a parallel index-only scan of ~60 MB
/// instead of a 300 MB heap scan at a million defects (measured: 330 ms → ~110 ms for the
/// summary). `INCLUDE` is PostgreSQL-only; SQLite keeps scanning the table.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE INDEX idx_defects_report ON defects (status, priority) \
                     INCLUDE (deadline, created_at, closed_at, project_id, performer_id)",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP INDEX IF EXISTS idx_defects_report")
                .await?;
        }
        Ok(())
    }
}
