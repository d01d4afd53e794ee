//! Variable coercion before execution (GraphQL spec, CoerceVariableValues).
//!
//! async-graphql checks a variable only where an argument uses it, and a missing
//! required variable only fails inside the resolver, as an uncoded error with a path.
//! The spec makes both request errors: nothing runs, and the message names the variable.
use async_graphql::{
    Name, Positioned, ScalarType, ServerError, Value, Variables,
    parser::types::{
        BaseType, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
        Type, VariableDefinition,
    },
    registry::{MetaType, MetaTypeName, Registry},
};

/// What input is checked against: the schema, and how many files the request carries.
pub struct Cx<'a> {
    pub registry: &'a Registry,
    pub uploads: usize,
}

fn bad_input(message: crate::i18n::Msg) -> ServerError {
    super::errors::said(message, super::errors::Phase::Input.code())
}

/// One error per variable that is missing, null where it may not be, or of the wrong
/// shape; an empty list when every variable coerces.
pub fn variables(
    cx: &Cx<'_>,
    definitions: &[Positioned<VariableDefinition>],
    values: &Variables,
) -> Vec<ServerError> {
    let mut errors = Vec::new();
    for def in definitions {
        let name = &def.node.name.node;
        let ty = &def.node.var_type.node;
        match values.get(name) {
            None if def.node.default_value.is_some() || ty.nullable => {}
            None => errors.push(bad_input(crate::i18n::Msg::VariableMissing {
                name: name.to_string(),
                ty: ty.to_string(),
            })),
            Some(value) => {
                if let Some(reason) = check(cx, ty, value) {
                    errors.push(bad_input(crate::i18n::Msg::VariableInvalid {
                        name: name.to_string(),
                        reason,
                    }));
                }
            }
        }
    }
    errors
}

/// Argument values of the operation run (variables substituted) that validation lets
/// through but the executor would refuse: custom scalars (`DateTime`, `Date`, `Upload`)
/// have no validity check in async-graphql's registry, so a bad literal would otherwise
/// fail inside a resolver, after other fields ran. Run after validation; linear (each
/// fragment once).
pub fn arguments(
    cx: &Cx<'_>,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Vec<ServerError> {
    let op = match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => op,
            None => return Vec::new(),
        },
        (DocumentOperations::Multiple(ops), None) => match ops.values().next() {
            Some(op) if ops.len() == 1 => op,
            _ => return Vec::new(),
        },
    };
    let registry = cx.registry;
    let root = match op.node.ty {
        OperationType::Query => Some(registry.query_type.as_str()),
        OperationType::Mutation => registry.mutation_type.as_deref(),
        OperationType::Subscription => registry.subscription_type.as_deref(),
    };
    let mut errors = Vec::new();
    let mut walk = |parent: &str, set: &SelectionSet| {
        selection_arguments(cx, parent, set, variables, &mut errors);
    };
    if let Some(root) = root {
        walk(root, &op.node.selection_set.node);
    }
    for fragment in doc.fragments.values() {
        walk(
            fragment.node.type_condition.node.on.node.as_str(),
            &fragment.node.selection_set.node,
        );
    }
    errors
}

fn selection_arguments(
    cx: &Cx<'_>,
    parent: &str,
    set: &SelectionSet,
    variables: &Variables,
    errors: &mut Vec<ServerError>,
) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                let Some(meta) = cx
                    .registry
                    .types
                    .get(parent)
                    .and_then(|t| t.field_by_name(&field.node.name.node))
                else {
                    continue;
                };
                for (name, value) in &field.node.arguments {
                    let Some(arg) = meta.args.get(name.node.as_str()) else {
                        continue;
                    };
                    // A bare `$variable` was checked against its declared type above, and
                    // validation makes that type fit the argument's: copying its value
                    // here for every use (100 aliases x a 1 MiB variable = 100 MB) would
                    // check it again for nothing.
                    if matches!(value.node, async_graphql_value::Value::Variable(_)) {
                        continue;
                    }
                    let (Some(ty), Ok(value)) = (
                        Type::new(&arg.ty),
                        value
                            .node
                            .clone()
                            .into_const_with(|v| variables.get(&v).cloned().ok_or(())),
                    ) else {
                        continue;
                    };
                    if let Some(reason) = check(cx, &ty, &value) {
                        let mut err = bad_input(crate::i18n::Msg::ArgumentInvalid {
                            field: name.node.to_string(),
                            reason,
                        });
                        err.locations.push(name.pos);
                        errors.push(err);
                    }
                }
                let child = MetaTypeName::concrete_typename(&meta.ty);
                selection_arguments(cx, child, &field.node.selection_set.node, variables, errors);
            }
            Selection::InlineFragment(inline) => {
                let on = inline
                    .node
                    .type_condition
                    .as_ref()
                    .map_or(parent, |t| t.node.on.node.as_str());
                selection_arguments(cx, on, &inline.node.selection_set.node, variables, errors);
            }
            // Fragment definitions are walked once each, by the caller.
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// Why `value` is not a `ty`, or `None` when it is.
fn check(cx: &Cx<'_>, ty: &Type, value: &Value) -> Option<String> {
    if matches!(value, Value::Null) {
        return (!ty.nullable).then(|| format!("expected \"{ty}\", found null"));
    }
    match &ty.base {
        BaseType::List(item) => match value {
            Value::List(items) => items.iter().enumerate().find_map(|(i, v)| {
                check(cx, item, v).map(|reason| format!("at index {i}: {reason}"))
            }),
            // A single value where a list is expected is a list of one.
            other => check(cx, item, other),
        },
        BaseType::Named(name) => named(cx, name, value),
    }
}

fn named(cx: &Cx<'_>, name: &Name, value: &Value) -> Option<String> {
    let expected = || format!("expected \"{name}\", found {value}");
    let ok = match name.as_str() {
        "Int" => {
            matches!(value, Value::Number(n) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()))
        }
        "Float" => matches!(value, Value::Number(_)),
        "String" => matches!(value, Value::String(_)),
        "Boolean" => matches!(value, Value::Boolean(_)),
        "ID" => {
            matches!(value, Value::String(_))
                || matches!(value, Value::Number(n) if n.is_i64() || n.is_u64())
        }
        // Custom scalars without an `is_valid` in the registry: parse them here, so a bad
        // value is refused before anything runs rather than in the middle of a resolver.
        "DateTime" => <chrono::DateTime<chrono::Utc> as ScalarType>::parse(value.clone()).is_ok(),
        "Date" => <super::scalars::Date as ScalarType>::parse(value.clone()).is_ok(),
        // Only the multipart reader puts a file in a variable (`#__graphql_file__:<n>`),
        // pointing at one of the request's uploads. Anything else would reach
        // async-graphql's `Upload`, which panics on a non-numeric suffix (`parse`) or an
        // index past the uploads (`value`).
        "Upload" => matches!(value, Value::String(s) if s
            .strip_prefix("#__graphql_file__:")
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n < cx.uploads)),
        other => return registered(cx, other, value),
    };
    (!ok).then(expected)
}

fn registered(cx: &Cx<'_>, name: &str, value: &Value) -> Option<String> {
    match cx.registry.types.get(name)? {
        MetaType::Scalar { is_valid, .. } => is_valid
            .as_ref()
            .is_some_and(|f| !f(value))
            .then(|| format!("expected \"{name}\", found {value}")),
        MetaType::Enum { enum_values, .. } => {
            let v = match value {
                Value::String(s) => Some(s.as_str()),
                Value::Enum(e) => Some(e.as_str()),
                _ => None,
            };
            match v {
                Some(v) if enum_values.contains_key(v) => None,
                _ => Some(format!(
                    "expected a value of enum \"{name}\", found {value}"
                )),
            }
        }
        MetaType::InputObject {
            input_fields,
            oneof,
            ..
        } => {
            let Value::Object(fields) = value else {
                return Some(format!("expected an object \"{name}\", found {value}"));
            };
            if let Some(unknown) = fields
                .keys()
                .find(|k| !input_fields.contains_key(k.as_str()))
            {
                return Some(format!("\"{name}\" has no field \"{unknown}\""));
            }
            if *oneof && fields.len() != 1 {
                return Some(format!("\"{name}\" takes exactly one field"));
            }
            input_fields.values().find_map(|field| {
                let ty = Type::new(&field.ty)?;
                match fields.get(field.name.as_str()) {
                    None if ty.nullable || field.default_value.is_some() || *oneof => None,
                    None => Some(format!(
                        "field \"{}\" of required type \"{ty}\" was not provided",
                        field.name
                    )),
                    Some(v) => check(cx, &ty, v)
                        .map(|reason| format!("in field \"{}\": {reason}", field.name)),
                }
            })
        }
        // Output types are not valid variable types; validation reports that.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn coerce(query: &str, vars: serde_json::Value) -> Vec<String> {
        let schema = crate::graphql::build_schema(None);
        let res = schema
            .execute(async_graphql::Request::new(query).variables(Variables::from_json(vars)))
            .await;
        // Without a database the resolvers fail too (with their own codes): only the
        // coercion errors are looked at.
        res.errors
            .into_iter()
            .filter(|e| {
                e.extensions.as_ref().and_then(|x| x.get("code"))
                    == Some(&Value::from("BAD_USER_INPUT"))
            })
            .map(|e| e.message)
            .collect()
    }

    #[tokio::test]
    async fn missing_null_and_mistyped_variables_name_the_variable() {
        let q = "query ($id: ID!) { defect(id: $id) { id } }";
        let errs = coerce(q, serde_json::json!({})).await;
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].contains("\"$id\"") && errs[0].contains("not provided"),
            "{errs:?}"
        );
        assert!(coerce(q, serde_json::json!({ "id": null })).await[0].contains("\"$id\""));
        assert!(coerce(q, serde_json::json!({ "id": "7" })).await.is_empty());
        let q = "query ($f: DefectFilter) { defects(filter: $f) { totalCount } }";
        let errs = coerce(q, serde_json::json!({ "f": "open" })).await;
        assert!(
            errs[0].contains("\"$f\"") && errs[0].contains("DefectFilter"),
            "{errs:?}"
        );
        let errs = coerce(q, serde_json::json!({ "f": { "status": ["NOPE"] } })).await;
        assert!(errs[0].contains("status"), "{errs:?}");
        let errs = coerce(
            q,
            serde_json::json!({ "f": { "createdFrom": "yesterday" } }),
        )
        .await;
        assert!(errs[0].contains("createdFrom"), "{errs:?}");
        assert!(
            coerce(q, serde_json::json!({ "f": { "status": "NEW" } }))
                .await
                .is_empty()
        );
    }

    #[tokio::test]
    async fn custom_scalar_literals_and_fake_uploads_are_refused_before_execution() {
        let errs = coerce(
            "{ defects(filter: { createdFrom: \"soon\" }) { totalCount } }",
            serde_json::json!({}),
        )
        .await;
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("filter:") && errs[0].contains("createdFrom"),
            "{errs:?}"
        );
        let q = "mutation ($f: Upload!) { uploadAttachment(defectId: \"1\", file: $f) { id } }";
        for fake in ["#__graphql_file__:x", "#__graphql_file__:0", "a file", ""] {
            let errs = coerce(q, serde_json::json!({ "f": fake })).await;
            assert!(errs[0].contains("\"$f\""), "{fake}: {errs:?}");
        }
    }
}
