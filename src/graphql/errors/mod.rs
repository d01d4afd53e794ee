//! The safety net under the error rule: every error leaves with a code, and none leaves
//! with internals in its message.
use std::sync::{Arc, Mutex};

use async_graphql::{
    Positioned, Request, Response, ServerError, ServerResult, ValidationResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
        NextRequest, NextValidation,
    },
    parser::types::{
        DocumentOperations, ExecutableDocument, OperationDefinition, OperationType,
        VariableDefinition,
    },
};

use super::{coerce, limits};

pub use super::upstream::{RegistryTap, within_recursion_limit};

#[derive(Default)]
pub struct SafetyNet {
    tap: RegistryTap,
}

impl SafetyNet {
    /// A safety net that hands the schema's registry to `tap` on its first request.
    pub fn tapping(tap: RegistryTap) -> Self {
        SafetyNet { tap }
    }
}

impl ExtensionFactory for SafetyNet {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SafetyNetExtension {
            tap: self.tap.clone(),
            request: Mutex::default(),
            parsed: Mutex::default(),
        })
    }
}

/// Request data: the transport has already checked the document against the limits
/// (`limits::check_document`), so the safety net does not walk it again.
pub struct DocumentChecked;

/// One per request: what the later hooks need from the earlier ones.
struct SafetyNetExtension {
    tap: RegistryTap,
    /// The operation name and the number of uploads, from the request.
    request: Mutex<(Option<String>, usize)>,
    /// The document and the request's variables, kept from parsing for coercion around
    /// validation.
    parsed: Mutex<Option<(ExecutableDocument, Variables)>>,
}

/// The operation the request runs: the named one, or the only one.
fn chosen_operation<'d>(
    doc: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<&'d OperationDefinition> {
    let op = match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        _ => return None,
    };
    Some(&op.node)
}

/// The variables of the operation the request runs.
fn chosen_definitions<'d>(
    doc: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<&'d [Positioned<VariableDefinition>]> {
    Some(&chosen_operation(doc, name)?.variable_definitions)
}

/// Every error leaves with a code; an uncoded resolver error (a bug) without its message.
fn scrub(mut response: Response) -> Response {
    response.errors = std::mem::take(&mut response.errors)
        .into_iter()
        .map(|mut err| {
            let has_code = err
                .extensions
                .as_ref()
                .is_some_and(|e| e.get("code").is_some());
            if has_code {
                return err;
            }
            let phase = Phase::of_uncoded(&err);
            if phase == Phase::Resolver {
                tracing::error!(message = %err.message, path = ?err.path, "uncoded error scrubbed");
                err.message = crate::i18n::Msg::Internal.to_string();
                err.source = Some(Arc::new(crate::i18n::Msg::Internal));
            }
            with_code(err, phase.code())
        })
        .collect();
    response
}

/// Runs a query-only document that the transport parsed and checked against the limits
/// on the schema without extensions, doing here what the safety net does around it, in
/// the same order: variables are coerced before validation (BAD_USER_INPUT naming the
/// variable), validation errors and uncoded resolver errors get their codes after.
/// Arguments are checked after validation by the net; a document whose arguments fail
/// that check runs on the full schema instead, so which of the two errors a request
/// gets stays the net's decision.
pub async fn execute_checked_query(
    schemas: &super::Schemas,
    mut request: Request,
    doc: ExecutableDocument,
) -> Response {
    let Some(env) = schemas.tap.env() else {
        // No request has reached the full schema yet: its net does it all.
        request.set_parsed_query(doc);
        return schemas.full.execute(request).await;
    };
    let cx = coerce::Cx {
        registry: &env.registry,
        uploads: request.uploads.len(),
    };
    let name = request.operation_name.as_deref();
    if let Some(defs) = chosen_definitions(&doc, name) {
        let errors = coerce::variables(&cx, defs, &request.variables);
        if !errors.is_empty() {
            return scrub(Response::from_errors(errors));
        }
    }
    // The executor's own recursion check fails before validation, and the net gives
    // that failure the parse code: such a document, too, runs where the net can.
    let lean = within_recursion_limit(&doc, super::MAX_RECURSIVE_DEPTH)
        && coerce::arguments(&cx, &doc, name, &request.variables).is_empty();
    let schema = if lean { &schemas.lean } else { &schemas.full };
    request.set_parsed_query(doc);
    scrub(schema.execute(request).await)
}

/// Where in a request's life an error arose. Every error is classified by this, never by
/// its message text (async-graphql's wording may change between releases; a resolver's
/// message could imitate it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The document did not parse.
    Parse,
    /// The document parsed but breaks a limit or a validation rule.
    Validation,
    /// A variable or an argument value does not fit its type (`coerce`).
    Input,
    /// After validation and before any resolver, so without a path: an unknown operation
    /// name, several operations and none chosen.
    Request,
    /// A resolver's error that nobody coded: a bug, so its message is not shown.
    Resolver,
}

impl Phase {
    pub fn code(self) -> &'static str {
        match self {
            Phase::Parse => "GRAPHQL_PARSE_FAILED",
            Phase::Validation | Phase::Request => "GRAPHQL_VALIDATION_FAILED",
            Phase::Input => "BAD_USER_INPUT",
            Phase::Resolver => "INTERNAL_SERVER_ERROR",
        }
    }

    /// An uncoded error that reached the end of the request: it has a path exactly when
    /// a resolver produced it (input was coerced and checked before execution began).
    fn of_uncoded(err: &ServerError) -> Self {
        if err.path.is_empty() {
            Phase::Request
        } else {
            Phase::Resolver
        }
    }
}

/// A new GraphQL error with a code: what every error this crate writes itself goes
/// through, so the shape (`extensions.code`) is set in one place.
pub fn coded(message: impl Into<String>, code: &str) -> ServerError {
    with_code(ServerError::new(message, None), code)
}

/// A new GraphQL error with a code, saying `msg`: its words (English until then) are put
/// into the client's language by the transport that writes the response
/// (`graphql::words`), which finds the message in the error's `source`.
pub fn said(msg: crate::i18n::Msg, code: &str) -> ServerError {
    let mut err = coded(msg.to_string(), code);
    err.source = Some(Arc::new(msg));
    err
}

/// The error that replaces one whose message may not be shown.
pub fn internal() -> ServerError {
    said(crate::i18n::Msg::Internal, Phase::Resolver.code())
}

/// `err` with `code`, unless it already has one (a resolver's `AppError` keeps its own).
pub fn with_code(mut err: ServerError, code: &str) -> ServerError {
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
        self.tap.tap(ctx.schema_env);
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
            .map_err(|e| with_code(e, Phase::Parse.code()))?;
        // The HTTP transport checks this off the runtime threads before it gets here (and
        // says so); this covers every other way into the executor.
        if ctx.data_opt::<DocumentChecked>().is_none() {
            limits::check_document(&doc)?;
        }
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
            let errors = coerce::variables(&cx, defs, values);
            if !errors.is_empty() {
                return Err(errors);
            }
        }
        let result = next.run(ctx).await;
        if let Ok(valid) = &result
            && let Some((doc, values)) = &kept
        {
            let errors = coerce::arguments(&cx, doc, name.as_deref(), values);
            if !errors.is_empty() {
                return Err(errors);
            }
            if chosen_operation(doc, name.as_deref())
                .is_some_and(|op| op.ty == OperationType::Subscription)
            {
                limits::check_subscription(valid.complexity).map_err(|e| vec![e])?;
            }
        }
        result.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| with_code(e, Phase::Validation.code()))
                .collect()
        })
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        scrub(next.run(ctx).await)
    }
}

#[cfg(test)]
mod tests;
