//! Bounded work per document, checked before validation: size in bytes, tokens and
//! nesting (cheap scans of the text, before the parser runs), then fragments, aliases
//! and the number of field selections with fragment spreads expanded (on the parsed
//! document, linear thanks to one memoised count per fragment).
//!
//! Why: async-graphql's validation walks fragment spreads as often as they are spread,
//! so `{ ...G0 } fragment G0 on Query { ...G1 ...G1 } …` costs 2^N steps for a
//! document of a few hundred bytes; depth and complexity limits run inside that walk
//! and cannot stop it.
use std::collections::HashMap;

use async_graphql::{
    Positioned, ServerError,
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
};

use crate::i18n::Msg;

/// A realistic screen's document is a few KiB; the standard introspection query ~2 KiB.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Lexical tokens (names, punctuators, values) in the document.
pub const MAX_TOKENS: usize = 10_000;
/// Nesting of `{`, `[` and `(`: the parser recurses on it, so it is bounded before parsing.
pub const MAX_NESTING: usize = 64;
pub const MAX_FRAGMENTS: usize = 100;
pub const MAX_ALIASES: usize = 100;
/// Field selections with every fragment spread expanded (what the executor would walk).
/// The standard introspection query has 220, a busy screen a few hundred. Validation has
/// rules quadratic in a selection set's size, so this also bounds its cost (a request of
/// 1,990 copies of one field takes ~50 ms end to end in a debug build).
pub const MAX_FIELDS: u64 = 2_000;

fn refuse(msg: Msg) -> ServerError {
    super::errors::said(msg, super::errors::Phase::Validation.code())
}

/// A subscription's selection against [`super::MAX_SUBSCRIPTION_COMPLEXITY`], with the
/// complexity validation computed (queries and mutations are bounded by the schema's
/// `MAX_COMPLEXITY` alone).
pub fn check_subscription(complexity: usize) -> Result<(), ServerError> {
    let max = super::MAX_SUBSCRIPTION_COMPLEXITY;
    if complexity > max {
        return Err(super::errors::said(
            crate::i18n::Msg::SubscriptionTooComplex {
                max,
                cost: complexity,
            },
            super::errors::Phase::Validation.code(),
        ));
    }
    Ok(())
}

/// Size, tokens and nesting, from the text alone (linear, no allocation).
pub fn check_text(query: &str) -> Result<(), ServerError> {
    if query.len() > MAX_DOCUMENT_BYTES {
        return Err(refuse(Msg::DocumentTooLarge {
            bytes: query.len(),
            max: MAX_DOCUMENT_BYTES,
        }));
    }
    let (tokens, nesting) = scan(query.as_bytes());
    if tokens > MAX_TOKENS {
        return Err(refuse(Msg::DocumentTooManyTokens { max: MAX_TOKENS }));
    }
    if nesting > MAX_NESTING {
        return Err(refuse(Msg::DocumentNestedTooDeep { max: MAX_NESTING }));
    }
    Ok(())
}

/// Counts tokens and the deepest bracket nesting. Hand-written because the parser is
/// exactly what must not run on an unchecked document; it only needs to be close to the
/// GraphQL lexer (a string or a name is one token), not exact.
fn scan(src: &[u8]) -> (usize, usize) {
    let (mut tokens, mut depth, mut max_depth, mut i) = (0usize, 0usize, 0usize, 0usize);
    while i < src.len() {
        let c = src[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            b'#' => {
                while i < src.len() && src[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                tokens += 1;
                if src[i..].starts_with(b"\"\"\"") {
                    i += 3;
                    while i < src.len() && !src[i..].starts_with(b"\"\"\"") {
                        i += if src[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 3;
                } else {
                    i += 1;
                    while i < src.len() && src[i] != b'"' && src[i] != b'\n' {
                        i += if src[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
            }
            b'{' | b'[' | b'(' => {
                tokens += 1;
                depth += 1;
                max_depth = max_depth.max(depth);
                i += 1;
            }
            b'}' | b']' | b')' => {
                tokens += 1;
                depth = depth.saturating_sub(1);
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'+') => {
                tokens += 1;
                while i < src.len()
                    && (src[i].is_ascii_alphanumeric() || matches!(src[i], b'_' | b'.' | b'+'))
                {
                    i += 1;
                }
                if i < src.len() && src[i] == b'-' {
                    i += 1;
                }
            }
            _ => {
                tokens += 1;
                i += 1;
            }
        }
    }
    (tokens, max_depth)
}

/// Fragments, aliases, expanded field selections and depth of a parsed document; on
/// success, whether it is introspection-only (what the depth rule needed to know, so the
/// transport does not walk the document again to route it).
pub fn check_document(doc: &ExecutableDocument) -> Result<Introspection, ServerError> {
    if doc.fragments.len() > MAX_FRAGMENTS {
        return Err(refuse(Msg::DocumentTooManyFragments {
            count: doc.fragments.len(),
            max: MAX_FRAGMENTS,
        }));
    }
    // Aliases as written (each selection set once, spreads not followed).
    let aliases: usize = doc
        .operations
        .iter()
        .map(|(_, op)| aliases_in(&op.node.selection_set))
        .chain(
            doc.fragments
                .values()
                .map(|f| aliases_in(&f.node.selection_set)),
        )
        .sum();
    if aliases > MAX_ALIASES {
        return Err(refuse(Msg::DocumentTooManyAliases {
            count: aliases,
            max: MAX_ALIASES,
        }));
    }
    let mut counter = Counter {
        doc,
        memo: HashMap::new(),
    };
    let mut fields = 0u64;
    for (_, op) in doc.operations.iter() {
        fields = fields.saturating_add(counter.selections(&op.node.selection_set)?);
    }
    if fields > MAX_FIELDS {
        return Err(refuse(Msg::DocumentTooManyFields { max: MAX_FIELDS }));
    }
    // Bounded by the expanded count just checked, so walking the expansion is cheap.
    let lists = doc
        .operations
        .iter()
        .map(|(_, op)| introspection_lists(doc, &op.node.selection_set, false, 0))
        .max()
        .unwrap_or(0);
    if lists > MAX_INTROSPECTION_LISTS {
        return Err(refuse(Msg::DocumentIntrospectionTooDeep {
            count: lists,
            max: MAX_INTROSPECTION_LISTS,
        }));
    }
    // The depth limit with fragments followed (memoised, linear; no cycles remain, the
    // count above refused them), here rather than only in validation: a document is
    // checked once and then cached by its text, and a chain of fragments each nesting
    // one field must not reach the executor's recursion walk on the lean path.
    // Introspection-only documents run on their own schema without a depth limit.
    let introspection = is_introspection(doc);
    if !introspection {
        let mut depth = Depth {
            doc,
            memo: HashMap::new(),
        };
        let deepest = doc
            .operations
            .iter()
            .map(|(_, op)| depth.of(&op.node.selection_set))
            .max()
            .unwrap_or(0);
        if deepest > super::MAX_DEPTH {
            return Err(refuse(Msg::DocumentTooDeep {
                depth: deepest,
                max: super::MAX_DEPTH,
            }));
        }
    }
    Ok(Introspection(introspection))
}

/// Whether an admitted document is introspection-only ([`is_introspection`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Introspection(pub bool);

/// Whether every operation of `doc` is a query of meta fields only (`__schema`, `__type`,
/// `__typename`, through fragments): it runs on the introspection schema.
fn is_introspection(doc: &ExecutableDocument) -> bool {
    doc.operations.iter().all(|(_, op)| {
        op.node.ty == OperationType::Query && only_meta_fields(doc, &op.node.selection_set.node, 0)
    })
}

/// Root fields through fragments; `depth` stops a fragment cycle (validation reports it).
fn only_meta_fields(doc: &ExecutableDocument, set: &SelectionSet, depth: usize) -> bool {
    depth < MAX_FRAGMENTS
        && set.items.iter().all(|item| match &item.node {
            Selection::Field(f) => {
                matches!(
                    f.node.name.node.as_str(),
                    "__schema" | "__type" | "__typename"
                )
            }
            Selection::InlineFragment(i) => {
                only_meta_fields(doc, &i.node.selection_set.node, depth + 1)
            }
            Selection::FragmentSpread(s) => doc
                .fragments
                .get(&s.node.fragment_name.node)
                .is_some_and(|f| only_meta_fields(doc, &f.node.selection_set.node, depth + 1)),
        })
}

/// Field depth as the depth limit counts it (`{ a { b } }` is 2), fragments followed,
/// each fragment's depth computed once.
struct Depth<'a> {
    doc: &'a ExecutableDocument,
    memo: HashMap<&'a str, usize>,
}

impl<'a> Depth<'a> {
    fn of(&mut self, set: &'a Positioned<SelectionSet>) -> usize {
        let mut deepest = 0;
        for item in &set.node.items {
            let d = match &item.node {
                Selection::Field(f) => 1 + self.of(&f.node.selection_set),
                Selection::InlineFragment(i) => self.of(&i.node.selection_set),
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.as_str();
                    match self.doc.fragments.get_key_value(name) {
                        None => 0,
                        Some((key, def)) => match self.memo.get(key.as_str()) {
                            Some(d) => *d,
                            None => {
                                // A cycle was refused before; this guards the recursion.
                                self.memo.insert(key.as_str(), 0);
                                let d = self.of(&def.node.selection_set);
                                self.memo.insert(key.as_str(), d);
                                d
                            }
                        },
                    }
                }
            };
            deepest = deepest.max(d);
        }
        deepest
    }
}

/// Nested introspection lists below `__schema`/`__type`, as graphql-js's
/// `MaxIntrospectionDepthRule`: `__schema { types { fields { type { fields { … } } } } }`
/// multiplies the answer by the schema's size at each level while the document stays a
/// few dozen fields (depth and complexity count fields, not answers). The standard
/// introspection query nests one.
pub const MAX_INTROSPECTION_LISTS: usize = 2;

/// The deepest nesting of introspection list fields in `set` (fragments followed; their
/// nesting is bounded by `MAX_FRAGMENTS`, cycles end there).
fn introspection_lists(
    doc: &ExecutableDocument,
    set: &Positioned<SelectionSet>,
    inside: bool,
    spreads: usize,
) -> usize {
    if spreads > MAX_FRAGMENTS {
        return 0;
    }
    set.node
        .items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                let name = f.node.name.node.as_str();
                let now_inside = inside || matches!(name, "__schema" | "__type");
                let list = usize::from(
                    inside
                        && matches!(
                            name,
                            "fields" | "interfaces" | "possibleTypes" | "inputFields"
                        ),
                );
                list + introspection_lists(doc, &f.node.selection_set, now_inside, spreads)
            }
            Selection::InlineFragment(i) => {
                introspection_lists(doc, &i.node.selection_set, inside, spreads)
            }
            Selection::FragmentSpread(s) => doc
                .fragments
                .get(&s.node.fragment_name.node)
                .map_or(0, |f| {
                    introspection_lists(doc, &f.node.selection_set, inside, spreads + 1)
                }),
        })
        .max()
        .unwrap_or(0)
}

fn aliases_in(set: &Positioned<SelectionSet>) -> usize {
    set.node
        .items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + aliases_in(&f.node.selection_set)
            }
            Selection::InlineFragment(i) => aliases_in(&i.node.selection_set),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// The expanded field count of a selection set; each fragment is counted once and
/// remembered, so the check is linear in the document even when its expansion is not.
struct Counter<'a> {
    doc: &'a ExecutableDocument,
    /// `None` while a fragment is being counted: seeing it again is a cycle.
    memo: HashMap<&'a str, Option<u64>>,
}

impl<'a> Counter<'a> {
    fn selections(&mut self, set: &'a Positioned<SelectionSet>) -> Result<u64, ServerError> {
        let mut total = 0u64;
        for item in &set.node.items {
            let n = match &item.node {
                Selection::Field(field) => {
                    1u64.saturating_add(self.selections(&field.node.selection_set)?)
                }
                Selection::InlineFragment(inline) => self.selections(&inline.node.selection_set)?,
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str())?
                }
            };
            total = total.saturating_add(n);
        }
        Ok(total)
    }

    fn fragment(&mut self, name: &str) -> Result<u64, ServerError> {
        // An unknown fragment is validation's to report; its spread counts as one
        // selection, or doubling spreads of one would count nothing while the
        // executor's recursion check walks each of them.
        let Some((key, def)) = self.doc.fragments.get_key_value(name) else {
            return Ok(1);
        };
        match self.memo.get(key.as_str()) {
            Some(Some(n)) => Ok(*n),
            Some(None) => Err(refuse(Msg::FragmentCycle {
                name: name.to_owned(),
            })),
            None => {
                self.memo.insert(key.as_str(), None);
                let n = self.selections(&def.node.selection_set)?;
                self.memo.insert(key.as_str(), Some(n));
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests;
