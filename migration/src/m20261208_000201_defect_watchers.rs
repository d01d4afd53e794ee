use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Who watches a defect (NOTIFY.md, "Watchers"). `watching = false` is an explicit
/// unwatch: it sticks (the automatic rules do not add that user again) until
/// `watchDefect`. Both foreign keys cascade: a purged defect or a removed user takes
/// its rows along. `(user_id, defect_id)` serves "what do I watch".
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DefectWatchers::Table)
                    .col(integer(DefectWatchers::DefectId))
                    .col(integer(DefectWatchers::UserId))
                    .col(boolean(DefectWatchers::Watching))
                    .col(timestamp_with_time_zone(DefectWatchers::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(DefectWatchers::DefectId)
                            .col(DefectWatchers::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DefectWatchers::Table, DefectWatchers::DefectId)
                            .to(Defects::Table, Defects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DefectWatchers::Table, DefectWatchers::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(crate::index(
                DefectWatchers::Table,
                &[DefectWatchers::UserId, DefectWatchers::DefectId],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DefectWatchers::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum DefectWatchers {
    Table,
    DefectId,
    UserId,
    Watching,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Defects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
