use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Safe retries (FIELD.md, "Safe retries"): one row per user and `Idempotency-Key`.
///
/// The unique `(user_id, key)` is the lock: the request whose INSERT of the `running`
/// row succeeds does the work, every other one reads the row. `fingerprint` is the hash
/// of the request (document, operation name, variables, files' contents); `status`,
/// `content_type` and `body` are the first answer once `state` is `done` (`body` NULL
/// when the answer was larger than the kept maximum). `attempt` fences a running row
/// that was taken over after its lease (`locked_until`) ran out: the old attempt can
/// neither store its answer nor release the key. Rows go after `expires_at` (24 h after
/// first use), deleted by the engine's tick through the `expires_at` index.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(big_pk_auto(IdempotencyKeys::Id))
                    .col(integer(IdempotencyKeys::UserId))
                    .col(string_len(IdempotencyKeys::Key, 255))
                    .col(string_len(IdempotencyKeys::Fingerprint, 64))
                    .col(string_len(IdempotencyKeys::State, 16))
                    .col(integer(IdempotencyKeys::Attempt))
                    .col(timestamp_with_time_zone_null(IdempotencyKeys::LockedUntil))
                    .col(small_integer_null(IdempotencyKeys::Status))
                    .col(string_len_null(IdempotencyKeys::ContentType, 96))
                    .col(text_null(IdempotencyKeys::Body))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .col(timestamp_with_time_zone(IdempotencyKeys::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(IdempotencyKeys::Table, IdempotencyKeys::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                crate::index(
                    IdempotencyKeys::Table,
                    &[IdempotencyKeys::UserId, IdempotencyKeys::Key],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(crate::index(
                IdempotencyKeys::Table,
                &[IdempotencyKeys::ExpiresAt],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum IdempotencyKeys {
    Table,
    Id,
    UserId,
    Key,
    Fingerprint,
    State,
    Attempt,
    LockedUntil,
    Status,
    ContentType,
    Body,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
