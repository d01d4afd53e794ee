//! The fence around async-graphql 7.2.1's internals: everything here (and the two places
//! named below) leans on what the library does not document or promise, so an upgrade
//! starts here, with the checklist in docs/ARCHITECTURE.md ("async-graphql internals").
//!
//! - [`RegistryTap`]: the doc-hidden `SchemaEnv` (the registry) handed out by an
//!   extension's context, read by the lean query road's coercion (`coerce.rs`).
//! - [`within_recursion_limit`]: a copy of the executor's private recursion-depth walk,
//!   so the lean road refuses exactly what the executor would.
//! - [`report_cost`]: called from `#[graphql(complexity = …)]` with `__ctx`,
//!   `__variables_definition` and `__field`, the parameter names of the closure the derive
//!   macro generates.
//!
//! Outside this module, by necessity (they cannot move without breaking the layers):
//! `http/ws/rewrite.rs` rewrites the library's WebSocket frames where 7.2.1 departs from
//! the protocols, and `graphql/errors/mod.rs` (the safety net) depends on the order in
//! which 7.2.1 calls the extension hooks. `tests/api/lean.rs` runs a corpus through the
//! lean and the full roads and must stay green after an upgrade.
use std::sync::{Arc, OnceLock};

use async_graphql::{
    Positioned, SchemaEnv, VisitorContext,
    parser::types::{ExecutableDocument, Field, Selection, SelectionSet, VariableDefinition},
};

/// The schema's registry for the checks a transport runs outside the executor: set by
/// the safety net on the first request it sees (async-graphql exposes the registry to
/// extensions only); empty until then.
#[derive(Clone, Default)]
pub struct RegistryTap(Arc<OnceLock<SchemaEnv>>);

impl RegistryTap {
    /// Whether the full schema's safety net has handed the registry over yet (until
    /// then the lean road hands every query to the full one).
    pub fn is_tapped(&self) -> bool {
        self.0.get().is_some()
    }

    /// The registry, once tapped.
    pub fn env(&self) -> Option<&SchemaEnv> {
        self.0.get()
    }

    /// Keeps the schema's environment the first time an extension sees one.
    pub fn tap(&self, env: &SchemaEnv) {
        self.0.get_or_init(|| env.clone());
    }
}

/// Whether async-graphql's recursion-depth check (`limit_recursive_depth`, run by the
/// executor on every document) passes: the same walk, selection sets and fragment
/// spreads followed. Its cost is bounded by `limits::check_document`, which ran first.
pub fn within_recursion_limit(doc: &ExecutableDocument, max: usize) -> bool {
    fn walk(doc: &ExecutableDocument, set: &SelectionSet, depth: usize, max: usize) -> bool {
        depth <= max
            && set.items.iter().all(|item| match &item.node {
                Selection::Field(f) => {
                    f.node.selection_set.node.items.is_empty()
                        || walk(doc, &f.node.selection_set.node, depth + 1, max)
                }
                Selection::FragmentSpread(s) => doc
                    .fragments
                    .get(&s.node.fragment_name.node)
                    .is_none_or(|f| walk(doc, &f.node.selection_set.node, depth + 1, max)),
                Selection::InlineFragment(i) => {
                    walk(doc, &i.node.selection_set.node, depth + 1, max)
                }
            })
    }
    doc.operations
        .iter()
        .all(|(_, op)| walk(doc, &op.node.selection_set.node, 0, max))
}

/// A report's complexity: its fields, plus the scan when the filter has a range. The
/// filter is read as plain JSON (variables substituted), not as `ReportFilter`, so that a
/// malformed `DateTime` literal fails the argument check after validation
/// (BAD_USER_INPUT naming the field) rather than this count (a validation error); an
/// argument that cannot be read at all is charged as ranged.
///
/// The attribute passes `__ctx`, `__variables_definition` and `__field`: the parameters
/// of the closure async-graphql-derive (pinned at 7.2.1) wraps the expression in, the
/// only way to the raw argument (a typed one is parsed with `?` before this runs).
pub fn report_cost(
    ctx: &VisitorContext<'_>,
    variables: &[Positioned<VariableDefinition>],
    field: &Field,
    child_complexity: usize,
) -> usize {
    let ranged = ctx
        .param_value::<Option<serde_json::Value>>(variables, field, "filter", None)
        .map_or(true, |filter| {
            filter.is_some_and(|f| ["from", "to"].iter().any(|k| !f[k].is_null()))
        });
    let own = if ranged {
        super::reports::RANGED_REPORT_COST
    } else {
        1
    };
    own.saturating_add(child_complexity)
}
