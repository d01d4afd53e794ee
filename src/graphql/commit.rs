//! Marks a GraphQL request as committing (see `crate::commit`) when its first top-level
//! mutation field starts.
use std::sync::Arc;

use crate::state::AppState;
use async_graphql::{
    ServerResult, Value,
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
