use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Notifications and the one engine that derives work from the journal (NOTIFY.md,
/// docs/ARCHITECTURE.md "Work derived from the journal").
///
/// - `notifications`: one row per recipient and cause. `dedupe` names the cause
///   (`e:<event id>` for an event, `c:<kind>:<defect>:<deadline>` for the clock), unique
///   per user: a repeated pass inserts nothing twice. `(user_id, id)` serves the inbox
///   newest first, `(user_id, read_at, id)` the unread count.
/// - `notification_settings`: one row per user who changed a default.
/// - `engine_positions`: each journal consumer's last processed event id, claimed
///   row-wise (`FOR UPDATE SKIP LOCKED` on PostgreSQL) by one instance at a time.
///   Consumers start at the journal's current end: an upgrade does not notify history.
/// - `jobs`: durable work with a lease (e-mail now; webhook deliveries and document
///   jobs next), claimed with `FOR UPDATE SKIP LOCKED`; `dedupe` makes enqueueing
///   idempotent.
/// - `clock_queue`: per open defect with a deadline, the next step of the clock and the
///   earliest local date it can fire (`fire_on`, indexed): a clock pass reads the rows
///   that are due, never every open defect. Backfilled here from the open defects.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(pk_auto(Notifications::Id))
                    .col(integer(Notifications::UserId))
                    .col(integer(Notifications::DefectId))
                    .col(integer(Notifications::ProjectId))
                    .col(string_len(Notifications::Kind, 32))
                    .col(integer_null(Notifications::EventId))
                    .col(integer_null(Notifications::ActorId))
                    .col(date_null(Notifications::Deadline))
                    .col(string_len(Notifications::Dedupe, 96))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Notifications::Table, Notifications::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Notifications::Table, Notifications::DefectId)
                            .to(Defects::Table, Defects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                crate::index(
                    Notifications::Table,
                    &[Notifications::UserId, Notifications::Dedupe],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        for cols in [
            &[Notifications::UserId, Notifications::Id][..],
            &[
                Notifications::UserId,
                Notifications::ReadAt,
                Notifications::Id,
            ][..],
            &[Notifications::DefectId][..],
        ] {
            manager
                .create_index(crate::index(Notifications::Table, cols))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(NotificationSettings::Table)
                    .col(integer(NotificationSettings::UserId).primary_key())
                    .col(boolean(NotificationSettings::Email).default(true))
                    .col(text(NotificationSettings::Muted).default("[]"))
                    .col(string_len(NotificationSettings::Language, 8).default("en"))
                    .col(timestamp_with_time_zone(NotificationSettings::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(NotificationSettings::Table, NotificationSettings::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EnginePositions::Table)
                    .col(string_len(EnginePositions::Consumer, 64).primary_key())
                    .col(big_integer(EnginePositions::Position))
                    .col(timestamp_with_time_zone(EnginePositions::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(big_pk_auto(Jobs::Id))
                    .col(string_len(Jobs::Kind, 32))
                    .col(string_len_uniq(Jobs::Dedupe, 128))
                    .col(text(Jobs::Payload))
                    .col(string_len(Jobs::State, 16))
                    .col(integer(Jobs::Attempts).default(0))
                    .col(timestamp_with_time_zone(Jobs::RunAt))
                    .col(timestamp_with_time_zone_null(Jobs::LockedUntil))
                    .col(text_null(Jobs::LastError))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(crate::index(
                Jobs::Table,
                &[Jobs::Kind, Jobs::State, Jobs::RunAt],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ClockQueue::Table)
                    .col(integer(ClockQueue::DefectId).primary_key())
                    .col(integer(ClockQueue::ProjectId))
                    .col(date(ClockQueue::Deadline))
                    .col(small_integer(ClockQueue::Stage))
                    .col(date_null(ClockQueue::FireOn))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ClockQueue::Table, ClockQueue::DefectId)
                            .to(Defects::Table, Defects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(crate::index(
                ClockQueue::Table,
                &[ClockQueue::FireOn, ClockQueue::DefectId],
            ))
            .await?;
        manager
            .create_index(crate::index(
                ClockQueue::Table,
                &[ClockQueue::ProjectId, ClockQueue::Stage],
            ))
            .await?;

        // Backfill: every open (NEW, IN_PROGRESS, REVIEW), live defect with a deadline
        // waits for its first step (DUE_SOON the day before its deadline).
        let db = manager.get_connection();
        let day_before = match manager.get_database_backend() {
            DatabaseBackend::Postgres => "deadline - 1",
            _ => "date(deadline, '-1 day')",
        };
        db.execute_unprepared(&format!(
            "INSERT INTO clock_queue (defect_id, project_id, deadline, stage, fire_on) \
             SELECT id, project_id, deadline, 0, {day_before} FROM defects \
             WHERE deadline IS NOT NULL AND status IN (0, 1, 2) AND deleted_at IS NULL"
        ))
        .await?;
        db.execute_unprepared(
            "INSERT INTO engine_positions (consumer, position, updated_at) \
             SELECT c.name, COALESCE((SELECT MAX(id) FROM defect_events), 0), CURRENT_TIMESTAMP \
             FROM (SELECT 'notifications' AS name UNION ALL SELECT 'clock') c",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            ClockQueue::Table.into_iden(),
            Jobs::Table.into_iden(),
            EnginePositions::Table.into_iden(),
            NotificationSettings::Table.into_iden(),
            Notifications::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone)]
enum Notifications {
    Table,
    Id,
    UserId,
    DefectId,
    ProjectId,
    Kind,
    EventId,
    ActorId,
    Deadline,
    Dedupe,
    CreatedAt,
    ReadAt,
}

#[derive(DeriveIden)]
enum NotificationSettings {
    Table,
    UserId,
    Email,
    Muted,
    Language,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EnginePositions {
    Table,
    Consumer,
    Position,
    UpdatedAt,
}

#[derive(DeriveIden, Clone)]
enum Jobs {
    Table,
    Id,
    Kind,
    Dedupe,
    Payload,
    State,
    Attempts,
    RunAt,
    LockedUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone)]
enum ClockQueue {
    Table,
    DefectId,
    ProjectId,
    Deadline,
    Stage,
    FireOn,
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
