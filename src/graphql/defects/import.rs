//! `importDefects` (FIELD.md "Import"): a thin resolver over `domain::defects::import`;
//! a refused row becomes its `code`, `field` and `message` in the request's language.
use async_graphql::{Context, ID, Object, SimpleObject, Upload};

use super::{
    bulk::{lang, said},
    objects::Defect,
};
use crate::{
    domain::defects::import::{self, Options, Report},
    error::GqlResultExt,
    graphql::{context::ContextExt, scalars::id},
    i18n::Lang,
};

#[derive(SimpleObject)]
pub struct ImportRowResult {
    /// 1 = the first row after the header.
    pub row: i32,
    pub ok: bool,
    pub code: Option<String>,
    /// The column the error is about.
    pub field: Option<String>,
    pub message: Option<String>,
    /// The created defect (null on a dry run, on a refused row, or when an atomic import
    /// refused anything).
    pub defect: Option<Defect>,
}

#[derive(SimpleObject)]
pub struct ImportResult {
    pub dry_run: bool,
    pub created: i32,
    pub failed: i32,
    pub rows: Vec<ImportRowResult>,
}

fn result(report: Report, lang: Lang) -> ImportResult {
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    ImportResult {
        dry_run: report.dry_run,
        created: count(report.created),
        failed: count(report.failed),
        rows: report
            .rows
            .into_iter()
            .map(|r| match r.outcome {
                Ok(defect) => ImportRowResult {
                    row: count(r.row),
                    ok: true,
                    code: None,
                    field: None,
                    message: None,
                    defect: defect.map(Defect),
                },
                Err(refusal) => {
                    let (code, message) = said(&refusal.error, lang);
                    ImportRowResult {
                        row: count(r.row),
                        ok: false,
                        code: Some(code),
                        field: refusal.field,
                        message: Some(message),
                        defect: None,
                    }
                }
            })
            .collect(),
    }
}

#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// CSV (either form of the export) or XLSX; creates NEW defects in the project.
    /// Admins and managers; at most 5,000 rows and `MAX_UPLOAD_BYTES`.
    async fn import_defects(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        file: Upload,
        #[graphql(default_with = "Some(false)")] dry_run: Option<bool>,
        #[graphql(default_with = "Some(true)")] atomic: Option<bool>,
    ) -> async_graphql::Result<ImportResult> {
        let viewer = ctx.viewer()?;
        let project = id(crate::error::Msg::ProjectNotFound, &project_id)?;
        let upload = crate::graphql::uploads::read(ctx, file).await?;
        let state = ctx.state();
        let report = import::import(
            &state.db,
            viewer,
            state.config.max_upload_bytes,
            project,
            upload.bytes,
            Options {
                dry_run: dry_run.unwrap_or(false),
                atomic: atomic.unwrap_or(true),
            },
        )
        .await
        .gql()?;
        Ok(result(report, lang(ctx)))
    }
}
