use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Counting a project's defects by status (`totalCount` of the most common list, the
/// per-project reports) as an index-only scan: measured at a million defects, 250 ms
/// through (project_id, created_at) against 2 ms with this index.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_defects_project_id_status")
                    .table(Defects::Table)
                    .col(Defects::ProjectId)
                    .col(Defects::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_defects_project_id_status")
                    .table(Defects::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Defects {
    Table,
    ProjectId,
    Status,
}
