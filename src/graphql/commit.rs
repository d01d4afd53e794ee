//! Marks a GraphQL request as committing (see `crate::commit`) when its first top-level
//! mutation field starts, and refuses every mutation field to a `READ` API token before
//! it runs (the one place all transports' mutations pass: HTTP and WebSocket).
use std::sync::Arc;

use crate::{auth::viewer::Auth, error::AppError, i18n::Msg, state::AppState};
use async_graphql::{
    ErrorExtensions, PathSegment, ServerError, ServerResult, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo},
};

/// Marks the request as committing when the first top-level mutation field starts
/// (mutation fields run one after another, so nothing has changed before that).
pub struct MutationsRunToCompletion;

impl ExtensionFactory for MutationsRunToCompletion {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(MutationsRunToCompletion)
    }
}

#[async_trait::async_trait]
impl Extension for MutationsRunToCompletion {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let top_mutation = info.path_node.parent.is_none() && info.parent_type == "Mutation";
        if top_mutation
            && let Some(Auth::Authenticated(viewer)) = ctx.data_opt::<Auth>()
            && viewer.read_only()
        {
            return Err(read_only(&info));
        }
        if top_mutation {
            crate::commit::begin_commit();
            // What earlier fields of the document loaded may be changed by this one.
            super::loaders::forget(ctx);
        }
        let out = next.run(ctx, info).await;
        // A mutation field commits its transaction before it returns: wake the live
        // subscriptions now (they read the journal, so a wake-up for a mutation that
        // wrote nothing costs one query).
        if top_mutation && let Some(state) = ctx.data_opt::<AppState>() {
            state.journal_wake.send_modify(|n| *n = n.wrapping_add(1));
        }
        out
    }
}

/// FORBIDDEN for a mutation field asked by a `READ` API token, at that field.
fn read_only(info: &ResolveInfo<'_>) -> ServerError {
    let mut err = AppError::Forbidden(Msg::ReadOnlyToken)
        .extend()
        .into_server_error(info.field.name.pos);
    let key = info.alias.unwrap_or(info.name);
    err.path = vec![PathSegment::Field(key.to_owned())];
    err
}
