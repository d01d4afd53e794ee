use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Webhooks (NOTIFY.md, "Webhooks").
///
/// - `webhooks`: one receiver. `project_id` null = every project (admins only); `kinds`
///   a JSON array of `DefectEventKind` names (empty = every kind); `secret` the
///   Standard Webhooks key (`whsec_…`), kept so deliveries can be signed;
///   `created_by` is whose visibility bounds what it receives.
/// - `webhook_deliveries`: one row per (webhook, event) to deliver, written by the
///   journal consumer `webhooks` (and by `replayWebhook`). `state` PENDING, DELIVERED
///   or FAILED. `(webhook_id, state, id)` finds a webhook's oldest pending delivery
///   (its head: the only one a job exists for, so later ones wait behind it) and
///   `(webhook_id, id)` serves the `deliveries` log newest first. The due scan is the
///   engine's: each head has a `jobs` row (`kind = 'webhook'`), claimed by its
///   `(kind, state, run_at)` index.
/// - `engine_positions` gets the consumer's row at the journal's end: an upgrade
///   delivers no history (`replayWebhook` does, on request).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(pk_auto(Webhooks::Id))
                    .col(integer_null(Webhooks::ProjectId))
                    .col(string_len(Webhooks::Url, 2048))
                    .col(text(Webhooks::Kinds).default("[]"))
                    .col(string_len(Webhooks::Secret, 128))
                    .col(integer(Webhooks::CreatedBy))
                    .col(boolean(Webhooks::Active).default(true))
                    .col(timestamp_with_time_zone(Webhooks::CreatedAt))
                    .col(timestamp_with_time_zone(Webhooks::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Webhooks::Table, Webhooks::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Webhooks::Table, Webhooks::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for cols in [&[Webhooks::ProjectId][..], &[Webhooks::CreatedBy][..]] {
            manager
                .create_index(crate::index(Webhooks::Table, cols))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(big_pk_auto(WebhookDeliveries::Id))
                    .col(integer(WebhookDeliveries::WebhookId))
                    .col(integer(WebhookDeliveries::EventId))
                    .col(string_len(WebhookDeliveries::State, 16))
                    .col(integer(WebhookDeliveries::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::NextAt))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::LastAttemptAt,
                    ))
                    .col(integer_null(WebhookDeliveries::ResponseCode))
                    .col(text_null(WebhookDeliveries::Error))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDeliveries::Table, WebhookDeliveries::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDeliveries::Table, WebhookDeliveries::EventId)
                            .to(DefectEvents::Table, DefectEvents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for cols in [
            &[WebhookDeliveries::WebhookId, WebhookDeliveries::Id][..],
            &[
                WebhookDeliveries::WebhookId,
                WebhookDeliveries::State,
                WebhookDeliveries::Id,
            ][..],
            &[WebhookDeliveries::EventId][..],
        ] {
            manager
                .create_index(crate::index(WebhookDeliveries::Table, cols))
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO engine_positions (consumer, position, updated_at) \
                 SELECT 'webhooks', COALESCE((SELECT MAX(id) FROM defect_events), 0), \
                 CURRENT_TIMESTAMP",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in [
            "DELETE FROM jobs WHERE kind = 'webhook'",
            "DELETE FROM engine_positions WHERE consumer = 'webhooks'",
        ] {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        for t in [
            WebhookDeliveries::Table.into_iden(),
            Webhooks::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone)]
enum Webhooks {
    Table,
    Id,
    ProjectId,
    Url,
    Kinds,
    Secret,
    CreatedBy,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone)]
enum WebhookDeliveries {
    Table,
    Id,
    WebhookId,
    EventId,
    State,
    Attempts,
    NextAt,
    LastAttemptAt,
    ResponseCode,
    Error,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum DefectEvents {
    Table,
    Id,
}
