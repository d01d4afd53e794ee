//! Schema migrations. One concern per migration; a landed migration is never edited.
pub use sea_orm_migration::prelude::*;

mod m20261126_000001_users_and_tokens;
mod m20261126_000002_projects_and_stages;
mod m20261126_000003_defects;
mod m20261126_000004_defect_list_counts;
mod m20261126_000005_report_covering_index;
mod m20261130_000101_login_attempts;
mod m20261130_000201_defect_soft_delete;
mod m20261130_000202_defect_events;
mod m20261130_000401_report_tallies;
mod m20261130_000601_defect_keys;
mod m20261130_000602_plans;
mod m20261207_000101_login_attempts_pending;
mod m20261208_000101_project_site_time;
mod m20261208_000201_defect_watchers;
mod m20261208_000301_notifications;
mod m20261209_000001_notification_visibility;
mod m20261209_000101_document_jobs;
mod m20261209_000201_idempotency_keys;
mod m20261209_000301_webhooks;
mod m20261209_000302_api_tokens;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_users_and_tokens::Migration),
            Box::new(m20261126_000002_projects_and_stages::Migration),
            Box::new(m20261126_000003_defects::Migration),
            Box::new(m20261126_000004_defect_list_counts::Migration),
            Box::new(m20261126_000005_report_covering_index::Migration),
            Box::new(m20261130_000101_login_attempts::Migration),
            Box::new(m20261130_000201_defect_soft_delete::Migration),
            Box::new(m20261130_000202_defect_events::Migration),
            Box::new(m20261130_000401_report_tallies::Migration),
            Box::new(m20261130_000601_defect_keys::Migration),
            Box::new(m20261130_000602_plans::Migration),
            Box::new(m20261207_000101_login_attempts_pending::Migration),
            Box::new(m20261208_000101_project_site_time::Migration),
            Box::new(m20261208_000201_defect_watchers::Migration),
            Box::new(m20261208_000301_notifications::Migration),
            Box::new(m20261209_000001_notification_visibility::Migration),
            Box::new(m20261209_000101_document_jobs::Migration),
            Box::new(m20261209_000201_idempotency_keys::Migration),
            Box::new(m20261209_000301_webhooks::Migration),
            Box::new(m20261209_000302_api_tokens::Migration),
        ]
    }
}

/// `CREATE INDEX` helper: every index is named `idx_<table>_<cols>`.
pub(crate) fn index<T: Iden + Clone + 'static>(table: T, cols: &[T]) -> IndexCreateStatement {
    let mut name = format!("idx_{}", table.to_string());
    for c in cols {
        name.push('_');
        name.push_str(&c.to_string());
    }
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for c in cols {
        stmt.col(c.clone());
    }
    stmt.to_owned()
}
