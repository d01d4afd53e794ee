//! The import rules of docs/ARCHITECTURE.md, checked on the source: a layer that reaches
//! up (the domain into the transport, GraphQL into HTTP) fails here, not in review.
use std::path::Path;

/// The top-level modules of this crate named by `crate::…` paths in one file, including
/// those inside `use crate::{a::b, c::{d, e}}` groups.
fn crate_modules(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Split the group at its own commas (depth 0), keep each item's first name.
            let (mut depth, mut start) = (0usize, 0usize);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.push(first_name(&group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push(first_name(&group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.push(first_name(rest));
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

fn first_name(item: &str) -> String {
    item.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::<module>` that files under `src/<folder>` name and must not.
fn violations(folder: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(folder);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(!files.is_empty(), "no sources under {}", root.display());
    let mut bad = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for module in crate_modules(&source) {
            if forbidden.contains(&module.as_str()) {
                bad.push(format!("{} imports crate::{module}", file.display()));
            }
        }
    }
    bad
}

#[test]
fn the_parser_sees_grouped_and_nested_imports() {
    let found = crate_modules(
        "use crate::{auth::Viewer, domain::{a, b::{c}}, state::AppState};\nfn f() { crate::http::x(); }",
    );
    assert_eq!(found, ["auth", "domain", "state", "http"]);
}

#[test]
fn the_domain_does_not_reach_into_the_transport_or_the_app_state() {
    let bad = violations("domain", &["state", "graphql", "http", "server"]);
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn graphql_does_not_import_http() {
    let bad = violations("graphql", &["http", "server"]);
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn auth_takes_what_it_uses_not_the_app_state() {
    // `state` is built from `auth` (keys, throttle, hash pool); `auth` importing it back
    // would be a loop, and each auth function would see the whole application.
    let bad = violations("auth", &["state", "graphql", "http", "server", "domain"]);
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn entities_hold_no_logic_of_other_layers() {
    let bad = violations(
        "entities",
        &["state", "graphql", "http", "server", "domain", "auth"],
    );
    assert!(bad.is_empty(), "{bad:#?}");
}
