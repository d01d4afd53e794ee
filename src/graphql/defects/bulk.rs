//! `bulkUpdateDefects` and `bulkChangeStatus` (FIELD.md): thin resolvers over
//! `domain::defects::bulk`; an item's error becomes its `code` and `message` in the
//! request's language instead of failing the request.
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};

use super::{inputs::input_id, objects::Defect};
use crate::{
    domain::defects::bulk::{self, BulkPatch, Item},
    entities::enums::{DefectStatus, Priority},
    error::{AppError, GqlResultExt},
    graphql::{
        context::ContextExt,
        scalars::{Date, patch},
    },
    i18n::Lang,
};

/// The fields to set on every defect; at least one. `null` clears, as in `updateDefect`
/// and `assignDefect` (`performerId: null` unassigns, only while NEW).
#[derive(InputObject)]
pub struct BulkDefectPatch {
    pub stage_id: MaybeUndefined<ID>,
    pub performer_id: MaybeUndefined<ID>,
    pub priority: MaybeUndefined<Priority>,
    pub deadline: MaybeUndefined<Date>,
}

#[derive(SimpleObject)]
pub struct BulkItemResult {
    pub id: ID,
    pub ok: bool,
    /// The error code when not ok (the contract's codes).
    pub code: Option<String>,
    pub message: Option<String>,
    pub defect: Option<Defect>,
}

#[derive(SimpleObject)]
pub struct BulkResult {
    /// In the order of the ids given (duplicates collapsed to the first).
    pub results: Vec<BulkItemResult>,
    pub succeeded: i32,
    pub failed: i32,
}

/// The request's language (the HTTP transport puts it in the request's data).
pub(crate) fn lang(ctx: &Context<'_>) -> Lang {
    ctx.data_opt::<Lang>().copied().unwrap_or_default()
}

/// An item's code and message, with the safety net's rule: an internal cause is logged,
/// never shown.
pub(crate) fn said(err: &AppError, lang: Lang) -> (String, String) {
    err.log();
    (err.code().to_owned(), err.message(lang))
}

fn result(items: Vec<Item>, lang: Lang) -> BulkResult {
    let mut out = BulkResult {
        results: Vec::with_capacity(items.len()),
        succeeded: 0,
        failed: 0,
    };
    for item in items {
        let r = match item.outcome {
            Ok(d) => {
                out.succeeded += 1;
                BulkItemResult {
                    id: ID(item.id),
                    ok: true,
                    code: None,
                    message: None,
                    defect: Some(Defect(d)),
                }
            }
            Err(e) => {
                out.failed += 1;
                let (code, message) = said(&e, lang);
                BulkItemResult {
                    id: ID(item.id),
                    ok: false,
                    code: Some(code),
                    message: Some(message),
                    defect: None,
                }
            }
        };
        out.results.push(r);
    }
    out
}

fn ids(ids: Vec<ID>) -> Vec<String> {
    ids.into_iter().map(|i| i.0).collect()
}

#[derive(Default)]
pub struct BulkMutation;

#[Object]
impl BulkMutation {
    /// Each item as the single mutation would do it, in its own transaction:
    /// `updateDefect` with the patch's fields and `assignDefect` when it names a
    /// performer (both in the item's one transaction). At most 200 distinct ids.
    async fn bulk_update_defects(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
        patch: BulkDefectPatch,
    ) -> async_graphql::Result<BulkResult> {
        let viewer = ctx.viewer()?;
        let id_patch = |v: MaybeUndefined<ID>, field: &str| -> async_graphql::Result<_> {
            Ok(match v {
                MaybeUndefined::Value(s) => Some(Some(input_id(field, &s)?)),
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Undefined => None,
            })
        };
        let patch = BulkPatch {
            stage_id: id_patch(patch.stage_id, "stageId")?,
            performer_id: id_patch(patch.performer_id, "performerId")?,
            priority: self::patch(patch.priority, |v| v),
            deadline: self::patch(patch.deadline, |d| d.0),
        };
        let items = bulk::update(&ctx.state().db, viewer, self::ids(ids), patch)
            .await
            .gql()?;
        Ok(result(items, lang(ctx)))
    }

    /// `changeDefectStatus` for each id, in its own transaction. At most 200 distinct ids.
    async fn bulk_change_status(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
        to: DefectStatus,
        comment: Option<String>,
    ) -> async_graphql::Result<BulkResult> {
        let viewer = ctx.viewer()?;
        let items = bulk::change_status(&ctx.state().db, viewer, self::ids(ids), to, comment)
            .await
            .gql()?;
        Ok(result(items, lang(ctx)))
    }
}
