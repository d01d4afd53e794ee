//! The safety net under the error rule: every error leaves with a code, and none leaves
//! with internals in its message.
use std::sync::{Arc, Mutex};

use async_graphql::{
    Positioned, Request, Response, ServerError, ServerResult, ValidationResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
        NextRequest, NextValidation,
    },
    parser::types::{DocumentOperations, ExecutableDocument, VariableDefinition},
};

use super::{coerce, limits};

pub struct SafetyNet;

impl ExtensionFactory for SafetyNet {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SafetyNetExtension::default())
    }
}

/// One per request: what the later hooks need from the earlier ones.
#[derive(Default)]
struct SafetyNetExtension {
    /// The operation name and the number of uploads, from the request.
    request: Mutex<(Option<String>, usize)>,
    /// The document and the request's variables, kept from parsing for coercion around
    /// validation.
    parsed: Mutex<Option<(ExecutableDocument, Variables)>>,
}

/// The operation the request runs: the named one, or the only one.
fn chosen_definitions(
    doc: &ExecutableDocument,
    name: Option<&str>,
) -> Option<Vec<Positioned<VariableDefinition>>> {
    let op = match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        _ => return None,
    };
    Some(op.node.variable_definitions.clone())
}

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
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut kept) = self.request.lock() {
            *kept = (request.operation_name.clone(), request.uploads.len());
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next
            .run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, "GRAPHQL_PARSE_FAILED"))?;
        // The HTTP transport checks this off the runtime threads before it gets here; this
        // covers every other way into the executor (linear, so cheap to repeat).
        limits::check_document(&doc)?;
        if let Ok(mut slot) = self.parsed.lock() {
            *slot = Some((doc.clone(), variables.clone()));
        }
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        // Variables first: a variable of the wrong type is the caller's input
        // (BAD_USER_INPUT naming the variable), not a document that fails validation.
        let (name, uploads) = self.request.lock().map(|r| r.clone()).unwrap_or_default();
        let cx = coerce::Cx {
            registry: &ctx.schema_env.registry,
            uploads,
        };
        let kept = self.parsed.lock().ok().and_then(|mut v| v.take());
        if let Some((doc, values)) = &kept
            && let Some(defs) = chosen_definitions(doc, name.as_deref())
        {
            let errors = coerce::variables(&cx, &defs, values);
            if !errors.is_empty() {
                return Err(errors);
            }
        }
        let result = next.run(ctx).await;
        if result.is_ok()
            && let Some((doc, values)) = &kept
        {
            let errors = coerce::arguments(&cx, doc, name.as_deref(), values);
            if !errors.is_empty() {
                return Err(errors);
            }
        }
        result.map_err(|errors| {
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
            // By phase, not by message: input is coerced (variables) and checked
            // (arguments) before execution, so an uncoded error without a path is a
            // request-level problem found after validation (unknown operation name,
            // several operations and none chosen) and one with a path is a resolver's.
            let code = if err.path.is_empty() {
                "GRAPHQL_VALIDATION_FAILED"
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
