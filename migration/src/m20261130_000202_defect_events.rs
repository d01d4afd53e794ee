use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The activity journal: one append-only row per change to a defect, written in the
/// change's transaction. Indexes serve the three reads: a defect's activity oldest first
/// (defect_id, id), and `Query.activity` newest first narrowed by project or actor.
/// `attachment` keeps the attachment's metadata as JSON text, so an event about a removed
/// attachment still describes it; `comment_id` has no foreign key for the same reason
/// (the journal outlives nothing but a purge, which removes the defect's rows).
/// `status_change_id` links a STATUS_CHANGED event to its history row (and its comment).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DefectEvents::Table)
                    .col(pk_auto(DefectEvents::Id))
                    .col(integer(DefectEvents::DefectId))
                    .col(integer(DefectEvents::ProjectId))
                    .col(integer(DefectEvents::ActorId))
                    .col(string_len(DefectEvents::Kind, 32))
                    .col(timestamp_with_time_zone(DefectEvents::At))
                    .col(text(DefectEvents::Changes))
                    .col(integer_null(DefectEvents::CommentId))
                    .col(integer_null(DefectEvents::StatusChangeId))
                    .col(integer_null(DefectEvents::AttachmentId))
                    .col(text_null(DefectEvents::Attachment))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DefectEvents::Table, DefectEvents::DefectId)
                            .to(Defects::Table, Defects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DefectEvents::Table, DefectEvents::ActorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for cols in [
            [DefectEvents::DefectId, DefectEvents::Id],
            [DefectEvents::ProjectId, DefectEvents::Id],
            [DefectEvents::ActorId, DefectEvents::Id],
        ] {
            manager
                .create_index(crate::index(DefectEvents::Table, &cols))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DefectEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum DefectEvents {
    Table,
    Id,
    DefectId,
    ProjectId,
    ActorId,
    Kind,
    At,
    Changes,
    CommentId,
    StatusChangeId,
    AttachmentId,
    Attachment,
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
