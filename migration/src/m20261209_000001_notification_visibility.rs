use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The inbox's visibility rule without a join: a notification carries whether its defect
/// is deleted now (`defect_deleted`, kept by the defect's delete and restore and by the
/// notification consumer, see `domain::notifications::visibility`), beside the project it
/// already carries. The list, its counts and `markNotificationsRead` then read one index
/// `(user_id, defect_deleted, project_id, read_at)`: the counts are index-only scans of
/// the viewer's own rows instead of a join of all of them with `defects`.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Notifications::Table)
                    .add_column(boolean(Notifications::DefectDeleted).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE notifications SET defect_deleted = TRUE WHERE defect_id IN \
                 (SELECT id FROM defects WHERE deleted_at IS NOT NULL)",
            )
            .await?;
        manager
            .create_index(crate::index(
                Notifications::Table,
                &[
                    Notifications::UserId,
                    Notifications::DefectDeleted,
                    Notifications::ProjectId,
                    Notifications::ReadAt,
                ],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_notifications_user_id_defect_deleted_project_id_read_at")
                    .table(Notifications::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Notifications::Table)
                    .drop_column(Notifications::DefectDeleted)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden, Clone)]
enum Notifications {
    Table,
    UserId,
    DefectDeleted,
    ProjectId,
    ReadAt,
}
