//! Marks a GraphQL request as committing (see `crate::commit`) when its first top-level
//! mutation field starts.
use std::sync::Arc;

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
        if info.path_node.parent.is_none() && info.parent_type == "Mutation" {
            crate::commit::begin_commit();
        }
        next.run(ctx, info).await
    }
}
