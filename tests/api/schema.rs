//! Contract tests: `schema.graphql` is current, and it covers the contract's outline.
use std::collections::BTreeSet;

use async_graphql::parser::{
    parse_schema,
    types::{ServiceDocument, TypeKind, TypeSystemDefinition},
};

/// Outline items that later issues build. Each entry is `Type` or `Type.field`.
/// Emptying this list is part of finishing those issues.
const NOT_YET_BUILT: &[&str] = &[];

/// `Type.field(args): type` lines, plus `Type` and enum values, for comparison.
fn items(doc: &ServiceDocument) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for def in &doc.definitions {
        let TypeSystemDefinition::Type(t) = def else {
            continue;
        };
        let name = t.node.name.node.to_string();
        out.insert(name.clone());
        match &t.node.kind {
            TypeKind::Object(o) => {
                for f in &o.fields {
                    let f = &f.node;
                    let mut args: Vec<String> = f
                        .arguments
                        .iter()
                        .map(|a| format!("{}: {}", a.node.name.node, a.node.ty.node))
                        .collect();
                    args.sort();
                    out.insert(format!("{name}.{}", f.name.node));
                    out.insert(format!(
                        "{name}.{}({}): {}",
                        f.name.node,
                        args.join(", "),
                        f.ty.node
                    ));
                }
            }
            TypeKind::InputObject(i) => {
                for f in &i.fields {
                    out.insert(format!("{name}.{}", f.node.name.node));
                    out.insert(format!("{name}.{}: {}", f.node.name.node, f.node.ty.node));
                }
            }
            TypeKind::Enum(e) => {
                for v in &e.values {
                    out.insert(format!("{name}.{}", v.node.value.node));
                }
            }
            _ => {}
        }
    }
    out
}

fn not_yet(item: &str) -> bool {
    NOT_YET_BUILT.iter().any(|n| {
        item == *n || item.starts_with(&format!("{n}.")) || item.starts_with(&format!("{n}("))
    })
}

#[test]
fn committed_schema_is_current() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql");
    let generated = defect_control::graphql::sdl();
    assert!(
        committed == generated,
        "schema.graphql is stale: run `cargo run -- print-schema > schema.graphql` and review the diff"
    );
}

/// The outlines in `docs/contract/` (the repository's copy of the contract) that the
/// schema implements (`notify-outline.graphql` but its webhooks and API tokens, listed in
/// `NOT_YET_BUILT`).
const IMPLEMENTED_OUTLINES: &[&str] = &[
    "schema-outline.graphql",
    "events-outline.graphql",
    "site-outline.graphql",
    "clients-outline.graphql",
    "notify-outline.graphql",
    "field-outline.graphql",
];

#[test]
fn schema_covers_the_contract_outline() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/contract");
    let outline: String = IMPLEMENTED_OUTLINES
        .iter()
        .map(|name| {
            std::fs::read_to_string(dir.join(name))
                .unwrap_or_else(|e| panic!("docs/contract/{name}: {e}"))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let ours = items(&parse_schema(defect_control::graphql::sdl()).expect("our SDL parses"));
    let wanted = items(&parse_schema(outline).expect("outline parses"));
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|i| !ours.contains(*i) && !not_yet(i))
        .collect();
    assert!(
        missing.is_empty(),
        "outline items missing from the schema: {missing:#?}"
    );
    // The not-yet list holds only what is really missing, so it shrinks as issues land.
    let built: Vec<&&str> = NOT_YET_BUILT
        .iter()
        .filter(|n| ours.contains(**n))
        .collect();
    assert!(
        built.is_empty(),
        "built already, remove from NOT_YET_BUILT: {built:?}"
    );
}

#[test]
fn committed_openapi_is_current() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"))
        .expect("openapi.json");
    assert!(
        committed == defect_control::http::openapi::json(),
        "openapi.json is stale: run `cargo run -- print-openapi > openapi.json` and review the diff"
    );
}

#[tokio::test]
async fn the_openapi_document_is_served_and_describes_every_rest_endpoint() {
    for app in crate::helpers::apps().await {
        let res = app.get("/api/openapi.json", None).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.body["openapi"], "3.1.0");
        let paths = res.body["paths"].as_object().unwrap();
        for path in [
            "/api/auth/login/",
            "/api/auth/refresh/",
            "/api/attachments/{id}/file",
            "/api/attachments/{id}/thumbnail",
            "/api/plans/{id}/file",
            "/health",
            "/ready",
        ] {
            assert!(paths.contains_key(path), "{path} is described");
        }
        let served: serde_json::Value =
            serde_json::from_str(&defect_control::http::openapi::json()).unwrap();
        assert_eq!(res.body, served);
    }
}
