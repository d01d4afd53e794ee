use sea_orm_migration::{prelude::*, schema::*};

use crate::index;
use crate::m20261126_000001_users_and_tokens::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .col(pk_auto(Projects::Id))
                    .col(string_len(Projects::Title, 200))
                    .col(text(Projects::Description))
                    .col(date_null(Projects::StartDate))
                    .col(date_null(Projects::EndDate))
                    .col(string_len(Projects::Status, 16))
                    .col(text(Projects::SearchText))
                    .col(timestamp_with_time_zone(Projects::CreatedAt))
                    .col(timestamp_with_time_zone(Projects::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(Projects::Table, &[Projects::Title, Projects::Id]))
            .await?;
        manager
            .create_index(index(Projects::Table, &[Projects::Status]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProjectMembers::Table)
                    .col(integer(ProjectMembers::ProjectId))
                    .col(integer(ProjectMembers::UserId))
                    .col(timestamp_with_time_zone(ProjectMembers::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(ProjectMembers::ProjectId)
                            .col(ProjectMembers::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProjectMembers::Table, ProjectMembers::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProjectMembers::Table, ProjectMembers::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The primary key serves lookups by project; engineers' visibility goes by user.
        manager
            .create_index(index(ProjectMembers::Table, &[ProjectMembers::UserId]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Stages::Table)
                    .col(pk_auto(Stages::Id))
                    .col(integer(Stages::ProjectId))
                    .col(string_len(Stages::Title, 200))
                    .col(text(Stages::Description))
                    .col(integer(Stages::Position))
                    .col(date_null(Stages::StartDate))
                    .col(date_null(Stages::EndDate))
                    .col(timestamp_with_time_zone(Stages::CreatedAt))
                    .col(timestamp_with_time_zone(Stages::UpdatedAt))
                    // Stages go with their project; a project that still has defects
                    // cannot be deleted (defects reference it with RESTRICT).
                    .foreign_key(
                        ForeignKey::create()
                            .from(Stages::Table, Stages::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(Stages::Table, &[Stages::ProjectId, Stages::Position]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [Stages::Table.into_iden(), ProjectMembers::Table.into_iden()] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table(Projects::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
pub enum Projects {
    Table,
    Id,
    Title,
    Description,
    StartDate,
    EndDate,
    Status,
    SearchText,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone)]
enum ProjectMembers {
    Table,
    ProjectId,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden, Clone)]
pub enum Stages {
    Table,
    Id,
    ProjectId,
    Title,
    Description,
    Position,
    StartDate,
    EndDate,
    CreatedAt,
    UpdatedAt,
}
