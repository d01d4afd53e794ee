use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Soft delete: `deleted_at` marks a deleted defect (NULL for every existing row, so
/// existing data migrates as "not deleted"). The index serves `deletedDefects`, which
/// reads the few marked rows; the live lists filter `IS NULL` and keep their own indexes.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Defects::Table)
                    .add_column(
                        ColumnDef::new(Defects::DeletedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(crate::index(Defects::Table, &[Defects::DeletedAt]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_defects_deleted_at")
                    .table(Defects::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Defects::Table)
                    .drop_column(Defects::DeletedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum Defects {
    Table,
    DeletedAt,
}
