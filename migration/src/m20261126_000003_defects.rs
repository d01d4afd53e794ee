use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

use crate::index;
use crate::m20261126_000001_users_and_tokens::Users;
use crate::m20261126_000002_projects_and_stages::{Projects, Stages};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(
    from: (Defects, Defects),
    to: (impl IntoIden, impl IntoIden),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(on_delete)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Defects::Table)
                    .col(pk_auto(Defects::Id))
                    .col(integer(Defects::ProjectId))
                    .col(integer_null(Defects::StageId))
                    .col(string_len(Defects::Title, 300))
                    .col(text(Defects::Description))
                    // Lower-cased title + description for case-insensitive search on both
                    // backends (SQLite's lower() only folds ASCII).
                    .col(text(Defects::SearchText))
                    // Priority and status are stored as their enum ordinal, so ORDER BY
                    // follows the enum order and the indexes stay small.
                    .col(small_integer(Defects::Priority))
                    .col(small_integer(Defects::Status))
                    .col(integer_null(Defects::PerformerId))
                    .col(integer(Defects::AuthorId))
                    .col(date_null(Defects::Deadline))
                    .col(integer(Defects::Version))
                    .col(timestamp_with_time_zone(Defects::CreatedAt))
                    .col(timestamp_with_time_zone(Defects::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Defects::ClosedAt))
                    .foreign_key(&mut fk(
                        (Defects::Table, Defects::ProjectId),
                        (Projects::Table, Projects::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        (Defects::Table, Defects::StageId),
                        (Stages::Table, Stages::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        (Defects::Table, Defects::PerformerId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        (Defects::Table, Defects::AuthorId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        // One index per filter column; the sortable ones carry the id tiebreak so that
        // keyset pages are index range scans.
        for cols in [
            vec![Defects::ProjectId, Defects::CreatedAt],
            vec![Defects::StageId],
            vec![Defects::PerformerId, Defects::Status],
            vec![Defects::AuthorId],
            vec![Defects::Status, Defects::Id],
            vec![Defects::Priority, Defects::Id],
            vec![Defects::CreatedAt, Defects::Id],
            vec![Defects::UpdatedAt, Defects::Id],
            vec![Defects::Deadline, Defects::Id],
            vec![Defects::Title, Defects::Id],
        ] {
            manager.create_index(index(Defects::Table, &cols)).await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            // Substring search at a million rows needs a trigram index on PostgreSQL.
            let db = manager.get_connection();
            db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                .await?;
            db.execute_unprepared(
                "CREATE INDEX idx_defects_search_trgm ON defects USING gin (search_text gin_trgm_ops)",
            )
            .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Comments::Table)
                    .col(pk_auto(Comments::Id))
                    .col(integer(Comments::DefectId))
                    .col(integer(Comments::AuthorId))
                    .col(text(Comments::Body))
                    .col(timestamp_with_time_zone(Comments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Comments::Table, Comments::DefectId)
                            .to(Defects::Table, Defects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Comments::Table, Comments::AuthorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(Comments::Table, &[Comments::DefectId, Comments::Id]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Attachments::Table)
                    .col(pk_auto(Attachments::Id))
                    .col(integer(Attachments::DefectId))
                    .col(integer(Attachments::UploadedBy))
                    .col(string_len(Attachments::Filename, 255))
                    .col(string_len(Attachments::ContentType, 100))
                    .col(big_integer(Attachments::Size))
                    .col(string_len(Attachments::Sha256, 64))
                    .col(integer_null(Attachments::Width))
                    .col(integer_null(Attachments::Height))
                    .col(string_len_uniq(Attachments::StorageKey, 255))
                    .col(string_len_null(Attachments::ThumbnailKey, 255))
                    .col(timestamp_with_time_zone(Attachments::CreatedAt))
                    // Rows go with their defect; the service removes the stored objects.
                    .foreign_key(
                        ForeignKey::create()
                            .from(Attachments::Table, Attachments::DefectId)
                            .to(Defects::Table, Defects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Attachments::Table, Attachments::UploadedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                Attachments::Table,
                &[Attachments::DefectId, Attachments::Id],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(StatusChanges::Table)
                    .col(pk_auto(StatusChanges::Id))
                    .col(integer(StatusChanges::DefectId))
                    .col(small_integer_null(StatusChanges::FromStatus))
                    .col(small_integer(StatusChanges::ToStatus))
                    .col(integer(StatusChanges::ChangedBy))
                    .col(timestamp_with_time_zone(StatusChanges::ChangedAt))
                    .col(text_null(StatusChanges::Comment))
                    .foreign_key(
                        ForeignKey::create()
                            .from(StatusChanges::Table, StatusChanges::DefectId)
                            .to(Defects::Table, Defects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(StatusChanges::Table, StatusChanges::ChangedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                StatusChanges::Table,
                &[StatusChanges::DefectId, StatusChanges::Id],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            StatusChanges::Table.into_iden(),
            Attachments::Table.into_iden(),
            Comments::Table.into_iden(),
            Defects::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone)]
enum Defects {
    Table,
    Id,
    ProjectId,
    StageId,
    Title,
    Description,
    SearchText,
    Priority,
    Status,
    PerformerId,
    AuthorId,
    Deadline,
    Version,
    CreatedAt,
    UpdatedAt,
    ClosedAt,
}

#[derive(DeriveIden, Clone)]
enum Comments {
    Table,
    Id,
    DefectId,
    AuthorId,
    Body,
    CreatedAt,
}

#[derive(DeriveIden, Clone)]
enum Attachments {
    Table,
    Id,
    DefectId,
    UploadedBy,
    Filename,
    ContentType,
    Size,
    Sha256,
    Width,
    Height,
    StorageKey,
    ThumbnailKey,
    CreatedAt,
}

#[derive(DeriveIden, Clone)]
enum StatusChanges {
    Table,
    Id,
    DefectId,
    FromStatus,
    ToStatus,
    ChangedBy,
    ChangedAt,
    Comment,
}
