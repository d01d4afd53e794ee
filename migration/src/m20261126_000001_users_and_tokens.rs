use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_auto(Users::Id))
                    .col(string_len_uniq(Users::Username, 150))
                    .col(string_len_uniq(Users::Email, 254))
                    .col(string_len(Users::FullName, 200))
                    .col(string(Users::PasswordHash))
                    .col(string_len(Users::Role, 16))
                    .col(boolean(Users::IsActive))
                    // Lower-cased username, name and e-mail: case-insensitive search that
                    // behaves the same on SQLite (whose lower() is ASCII-only) and PostgreSQL.
                    .col(text(Users::SearchText))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(Users::Table, &[Users::Role]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(pk_auto(RefreshTokens::Id))
                    .col(integer(RefreshTokens::UserId))
                    // Every token descended from one login shares a family; reuse of a
                    // rotated token revokes the whole family.
                    .col(string_len(RefreshTokens::FamilyId, 64))
                    .col(string_len_uniq(RefreshTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RefreshTokens::Table, RefreshTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(RefreshTokens::Table, &[RefreshTokens::FamilyId]))
            .await?;
        manager
            .create_index(index(RefreshTokens::Table, &[RefreshTokens::UserId]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RefreshTokens::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
pub enum Users {
    Table,
    Id,
    Username,
    Email,
    FullName,
    PasswordHash,
    Role,
    IsActive,
    SearchText,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    ExpiresAt,
    UsedAt,
    RevokedAt,
    CreatedAt,
}
