use async_graphql::Enum;
use sea_orm::{entity::prelude::*, sea_query::StringLen};

/// A document asked for with `requestDocument` (FIELD.md "Handover documents"); run by
/// the engine's queue (`jobs`, kind `document`). `attempt` is the queue attempt that
/// owns the row (fencing); `object_key` the stored file while it is kept.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "document_jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub requested_by: i32,
    pub format: DocumentFormat,
    /// The export's filter as JSON (`DefectFilter`).
    #[sea_orm(column_type = "Text")]
    pub filter: String,
    /// `en`/`ru`: the human form; none: the machine form (CSV, XLSX).
    pub lang: Option<String>,
    pub photos: bool,
    pub status: JobStatus,
    pub progress: f64,
    pub rows: Option<i64>,
    pub object_key: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub attempt: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub expires_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Enum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
pub enum DocumentFormat {
    #[sea_orm(string_value = "PDF")]
    Pdf,
    #[sea_orm(string_value = "XLSX")]
    Xlsx,
    #[sea_orm(string_value = "CSV")]
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Enum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum JobStatus {
    #[sea_orm(string_value = "QUEUED")]
    Queued,
    #[sea_orm(string_value = "RUNNING")]
    Running,
    #[sea_orm(string_value = "DONE")]
    Done,
    #[sea_orm(string_value = "FAILED")]
    Failed,
}

impl JobStatus {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Done | Self::Failed)
    }
}
