use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Site time and SLA (NOTIFY.md): a project's IANA time zone (its "today"; existing
/// projects become `UTC`, the rule they were judged by), its default deadline per
/// priority (`sla`: a JSON array of `{"priority":"HIGH","days":3}`, at most one per
/// priority) and after how many days past a deadline an open defect is escalated.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in [
            string_len(Projects::TimeZone, 64).default("UTC").to_owned(),
            text(Projects::Sla).default("[]").to_owned(),
            integer_null(Projects::EscalateAfterDays).to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Projects::Table)
                        .add_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            Projects::TimeZone,
            Projects::Sla,
            Projects::EscalateAfterDays,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Projects::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    TimeZone,
    Sla,
    EscalateAfterDays,
}
