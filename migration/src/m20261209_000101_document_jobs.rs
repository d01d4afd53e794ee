use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Document jobs (FIELD.md "Handover documents"): what a user asked for and where it
/// stands. The work itself runs through the engine's `jobs` queue (kind `document`);
/// this row is what `documentJob`/`myDocumentJobs` read and the subscription watches.
///
/// - `attempt`: the queue attempt that owns the row now (the fencing token): a write
///   from an attempt whose lease ran out changes nothing.
/// - `(requested_by, created_at)` serves `myDocumentJobs` newest first and the per-user
///   count of queued or running jobs; `expires_at` the sweep of expired files.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DocumentJobs::Table)
                    .col(big_pk_auto(DocumentJobs::Id))
                    .col(integer(DocumentJobs::RequestedBy))
                    .col(string_len(DocumentJobs::Format, 8))
                    .col(text(DocumentJobs::Filter))
                    .col(string_len_null(DocumentJobs::Lang, 8))
                    .col(boolean(DocumentJobs::Photos))
                    .col(string_len(DocumentJobs::Status, 16))
                    .col(double(DocumentJobs::Progress).default(0.0))
                    .col(big_integer_null(DocumentJobs::Rows))
                    .col(string_len_null(DocumentJobs::ObjectKey, 255))
                    .col(text_null(DocumentJobs::Error))
                    .col(integer(DocumentJobs::Attempt).default(0))
                    .col(timestamp_with_time_zone(DocumentJobs::CreatedAt))
                    .col(timestamp_with_time_zone(DocumentJobs::UpdatedAt))
                    .col(timestamp_with_time_zone_null(DocumentJobs::StartedAt))
                    .col(timestamp_with_time_zone_null(DocumentJobs::FinishedAt))
                    .col(timestamp_with_time_zone_null(DocumentJobs::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DocumentJobs::Table, DocumentJobs::RequestedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(crate::index(
                DocumentJobs::Table,
                &[DocumentJobs::RequestedBy, DocumentJobs::CreatedAt],
            ))
            .await?;
        manager
            .create_index(crate::index(
                DocumentJobs::Table,
                &[DocumentJobs::ExpiresAt],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DocumentJobs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum DocumentJobs {
    Table,
    Id,
    RequestedBy,
    Format,
    Filter,
    Lang,
    Photos,
    Status,
    Progress,
    Rows,
    ObjectKey,
    Error,
    Attempt,
    CreatedAt,
    UpdatedAt,
    StartedAt,
    FinishedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
