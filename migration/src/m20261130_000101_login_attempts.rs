use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The login failure budget lives in the database (not in process memory) so that every
/// server instance on one database spends the same budget.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginAttempts::Table)
                    // `u:<username>`, `a:<address>` or `ua:<address>|<username>`.
                    .col(string_len(LoginAttempts::Key, 512).primary_key())
                    .col(integer(LoginAttempts::Attempts))
                    // Unix seconds: compared arithmetically the same way on both backends.
                    .col(big_integer(LoginAttempts::WindowStart))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(crate::index(
                LoginAttempts::Table,
                &[LoginAttempts::WindowStart],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginAttempts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum LoginAttempts {
    Table,
    Key,
    Attempts,
    WindowStart,
}
