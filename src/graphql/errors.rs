//! The safety net under the error rule: every error leaves with a code, and none leaves
//! with internals in its message.
use std::sync::Arc;

use async_graphql::{
    Response, ServerError, ServerResult, ValidationResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextValidation,
    },
    parser::types::ExecutableDocument,
};

pub struct SafetyNet;

impl ExtensionFactory for SafetyNet {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SafetyNetExtension)
    }
}

struct SafetyNetExtension;

fn with_code(mut err: ServerError, code: &str) -> ServerError {
    let has_code = err
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some());
    if !has_code {
        err.extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
    err
}

#[async_trait::async_trait]
impl Extension for SafetyNetExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, "GRAPHQL_PARSE_FAILED"))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| with_code(e, "GRAPHQL_VALIDATION_FAILED"))
                .collect()
        })
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for err in &mut response.errors {
            let has_code = err
                .extensions
                .as_ref()
                .is_some_and(|e| e.get("code").is_some());
            if has_code {
                continue;
            }
            let code = if err.path.is_empty() {
                // Request-level problems found after validation (unknown operation name,
                // several operations and none chosen).
                "GRAPHQL_VALIDATION_FAILED"
            } else if err.message.starts_with("Failed to parse")
                || err.message.starts_with("Invalid value")
            {
                // async-graphql's own input coercion inside a field.
                "BAD_USER_INPUT"
            } else {
                tracing::error!(message = %err.message, path = ?err.path, "uncoded error scrubbed");
                err.message = "internal server error".into();
                "INTERNAL_SERVER_ERROR"
            };
            err.extensions
                .get_or_insert_with(Default::default)
                .set("code", code);
        }
        response
    }
}
