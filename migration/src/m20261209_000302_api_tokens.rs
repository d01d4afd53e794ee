use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// API tokens for scripts and integrations (NOTIFY.md, "API tokens").
///
/// - `secret_hash`: SHA-256 (hex) of the secret `dct_<43 base64url chars>` (256 random
///   bits). A fast hash is right for a high-entropy secret: nobody can guess 2^256
///   values, so a slow hash (argon2) would only cost every request tens of milliseconds
///   and protect nothing more. Unique: the lookup of a request is one indexed equality
///   (a leaked table gives no usable secret).
/// - `scope`: `READ` or `READ_WRITE` (`ApiTokenScope`).
/// - `last_used_at`: written at most once a minute per token (a conditional UPDATE).
/// - `(user_id, revoked_at)`: `myApiTokens` and the 20-live-tokens count.
///
/// A removed user takes its tokens along (cascade).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(pk_auto(ApiTokens::Id))
                    .col(integer(ApiTokens::UserId))
                    .col(string_len(ApiTokens::Name, 100))
                    .col(string_len(ApiTokens::Scope, 16))
                    .col(string_len(ApiTokens::SecretHash, 64))
                    .col(timestamp_with_time_zone_null(ApiTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiTokens::Table, ApiTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                crate::index(ApiTokens::Table, &[ApiTokens::SecretHash])
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(crate::index(
                ApiTokens::Table,
                &[ApiTokens::UserId, ApiTokens::RevokedAt],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiTokens::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum ApiTokens {
    Table,
    Id,
    UserId,
    Name,
    Scope,
    SecretHash,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
