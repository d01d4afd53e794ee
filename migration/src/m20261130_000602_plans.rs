use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Drawings (plans) of a project, and a defect's optional pin on one.
///
/// `plans` keeps a stored file like an attachment (generated storage keys, content type
/// decided from the bytes, size, sha256, image dimensions). Deleting a project with
/// plans is refused by the foreign key (CONFLICT), so no stored file is orphaned; a
/// deleted stage leaves its plans without a stage.
///
/// `defects.plan_id` has no foreign key: SQLite cannot drop a column that one
/// references (so `down` could not run there). `deletePlan` counts pinned defects in its
/// transaction instead, and a pin whose plan is gone (a delete racing a pin) reads as no
/// pin. `location_x`/`location_y` are fractions of the plan's preview, from its top-left
/// corner; `location_label` is free text.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Plans::Table)
                    .col(pk_auto(Plans::Id))
                    .col(integer(Plans::ProjectId))
                    .col(integer_null(Plans::StageId))
                    .col(string_len(Plans::Title, 200))
                    .col(string_len(Plans::Filename, 255))
                    .col(string_len(Plans::ContentType, 100))
                    .col(big_integer(Plans::Size))
                    .col(string_len(Plans::Sha256, 64))
                    .col(integer_null(Plans::Width))
                    .col(integer_null(Plans::Height))
                    .col(string_len_uniq(Plans::StorageKey, 255))
                    .col(integer(Plans::UploadedBy))
                    .col(timestamp_with_time_zone(Plans::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Plans::Table, Plans::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Plans::Table, Plans::StageId)
                            .to(Stages::Table, Stages::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Plans::Table, Plans::UploadedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(crate::index(Plans::Table, &[Plans::ProjectId, Plans::Id]))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Defects::Table)
                    .add_column(integer_null(Defects::PlanId))
                    .to_owned(),
            )
            .await?;
        for col in [Defects::LocationX, Defects::LocationY] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Defects::Table)
                        .add_column(double_null(col))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Defects::Table)
                    .add_column(string_len_null(Defects::LocationLabel, 200))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(crate::index(Defects::Table, &[Defects::PlanId]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_defects_plan_id")
                    .table(Defects::Table)
                    .to_owned(),
            )
            .await?;
        for col in [
            Defects::LocationLabel,
            Defects::LocationY,
            Defects::LocationX,
            Defects::PlanId,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Defects::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(Plans::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum Plans {
    Table,
    Id,
    ProjectId,
    StageId,
    Title,
    Filename,
    ContentType,
    Size,
    Sha256,
    Width,
    Height,
    StorageKey,
    UploadedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone)]
enum Defects {
    Table,
    PlanId,
    LocationX,
    LocationY,
    LocationLabel,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Stages {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
