use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The reports' maintained aggregate (`domain::reports::tally` keeps it in step with every
/// change of a defect, in the change's transaction):
///
/// - `report_counts`: live defects per project × performer (0 = nobody) × status ×
///   priority, with the summed closing time of CLOSED ones (whole seconds and the
///   microsecond remainders, both exact integers) and `late`, open defects whose deadline
///   had passed when they were counted;
/// - `report_deadlines`: open defects per deadline day and the same key, for deadlines
///   that had not passed yet when counted. Reports add the rows before today to `late`;
///   a periodic compaction folds those rows into `late`.
///
/// Sentinels instead of NULLs (performer 0): NULLs never conflict in a unique index, and
/// the upserts rely on the conflict. Backfilled from the existing defects: every open
/// defect with a deadline goes to `report_deadlines` (the first compaction folds the past
/// ones). The backfill is the same statement as the application's `tally::recompute`.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReportCounts::Table)
                    .col(ColumnDef::new(ReportCounts::ProjectId).integer().not_null())
                    .col(
                        ColumnDef::new(ReportCounts::PerformerId)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ReportCounts::Status)
                            .small_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ReportCounts::Priority)
                            .small_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ReportCounts::N).big_integer().not_null())
                    .col(ColumnDef::new(ReportCounts::Late).big_integer().not_null())
                    .col(
                        ColumnDef::new(ReportCounts::ClosedSecs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ReportCounts::ClosedMicros)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ReportCounts::ProjectId)
                            .col(ReportCounts::PerformerId)
                            .col(ReportCounts::Status)
                            .col(ReportCounts::Priority),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ReportCounts::Table, ReportCounts::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReportDeadlines::Table)
                    .col(ColumnDef::new(ReportDeadlines::Deadline).date().not_null())
                    .col(
                        ColumnDef::new(ReportDeadlines::ProjectId)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ReportDeadlines::PerformerId)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ReportDeadlines::Status)
                            .small_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ReportDeadlines::Priority)
                            .small_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ReportDeadlines::N).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(ReportDeadlines::Deadline)
                            .col(ReportDeadlines::ProjectId)
                            .col(ReportDeadlines::PerformerId)
                            .col(ReportDeadlines::Status)
                            .col(ReportDeadlines::Priority),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ReportDeadlines::Table, ReportDeadlines::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        db.execute_unprepared(&backfill_counts(backend)).await?;
        db.execute_unprepared(&backfill_deadlines()).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ReportDeadlines::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ReportCounts::Table).to_owned())
            .await
    }
}

/// Microseconds from `created_at` to `closed_at` of one defect, exactly: PostgreSQL's
/// EXTRACT of an interval is numeric; SQLite keeps RFC 3339 text (`…T12:00:00.123456+00:00`,
/// 0, 3 or 6 fraction digits) and its date functions stop at milliseconds, so the
/// fraction is read as digits.
fn closed_micros(backend: DatabaseBackend) -> String {
    match backend {
        DatabaseBackend::Postgres => {
            "CAST(EXTRACT(EPOCH FROM (closed_at - created_at)) * 1000000 AS BIGINT)".to_owned()
        }
        _ => {
            let us = |c: &str| {
                format!(
                    "(CAST(strftime('%s', substr({c}, 1, 19)) AS INTEGER) * 1000000 + \
                     CASE WHEN substr({c}, 20, 1) = '.' THEN CAST(substr(substr({c}, 21, \
                     instr(substr({c}, 21), '+') - 1) || '000000', 1, 6) AS INTEGER) ELSE 0 END)"
                )
            };
            format!("({} - {})", us("closed_at"), us("created_at"))
        }
    }
}

fn backfill_counts(backend: DatabaseBackend) -> String {
    format!(
        "INSERT INTO report_counts (project_id, performer_id, status, priority, n, late, closed_secs, closed_micros) \
         SELECT project_id, performer_id, status, priority, COUNT(*), 0, \
                COALESCE(SUM(us / 1000000), 0), COALESCE(SUM(us % 1000000), 0) \
         FROM (SELECT project_id, COALESCE(performer_id, 0) AS performer_id, status, priority, \
                      CASE WHEN status = 3 AND closed_at IS NOT NULL THEN {} END AS us \
               FROM defects WHERE deleted_at IS NULL) AS live \
         GROUP BY project_id, performer_id, status, priority",
        closed_micros(backend)
    )
}

fn backfill_deadlines() -> String {
    "INSERT INTO report_deadlines (deadline, project_id, performer_id, status, priority, n) \
     SELECT deadline, project_id, COALESCE(performer_id, 0), status, priority, COUNT(*) \
     FROM defects WHERE deleted_at IS NULL AND deadline IS NOT NULL AND status IN (0, 1, 2) \
     GROUP BY deadline, project_id, COALESCE(performer_id, 0), status, priority"
        .to_owned()
}

#[derive(DeriveIden)]
enum ReportCounts {
    Table,
    ProjectId,
    PerformerId,
    Status,
    Priority,
    N,
    Late,
    ClosedSecs,
    ClosedMicros,
}

#[derive(DeriveIden)]
enum ReportDeadlines {
    Table,
    Deadline,
    ProjectId,
    PerformerId,
    Status,
    Priority,
    N,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}
