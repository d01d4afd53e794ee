//! The import rules of docs/ARCHITECTURE.md, checked on the source: a layer that reaches
//! up (the domain into the transport, GraphQL into HTTP) fails here, not in review.
use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

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

/// What each part of `src/` may name (`crate::<module>`): the "may import" column of the
/// table in docs/ARCHITECTURE.md, which [`the_architecture_page_states_these_rules`]
/// compares with this list. `main.rs` and `lib.rs` may name everything.
const ALLOWED: &[(&str, &[&str])] = &[
    (
        "server.rs",
        &["app", "http", "state", "error", "i18n", "caps"],
    ),
    ("live.rs", &["domain", "entities", "error", "caps"]),
    ("inbox_live.rs", &["domain", "entities", "error", "caps"]),
    ("caps.rs", &[]),
    (
        "state.rs",
        &[
            "auth",
            "config",
            "error",
            "live",
            "inbox_live",
            "storage",
            "domain",
            "engine",
            "mail",
        ],
    ),
    ("engine", &["entities", "error", "time"]),
    ("mail.rs", &["config", "error"]),
    ("config", &[]),
    ("commit.rs", &[]),
    (
        "http",
        &[
            "graphql", "domain", "auth", "state", "config", "commit", "entities", "error", "i18n",
            "storage", "time", "caps", "db",
        ],
    ),
    (
        "graphql",
        &[
            "domain",
            "auth",
            "entities",
            "error",
            "i18n",
            "state",
            "live",
            "inbox_live",
            "commit",
            "storage",
            "time",
            "connection",
        ],
    ),
    (
        "domain",
        &[
            "auth", "entities", "error", "storage", "time", "i18n", "engine", "mail",
        ],
    ),
    (
        "auth",
        &["entities", "error", "db", "time", "config", "i18n"],
    ),
    (
        "seed",
        &["auth", "domain", "entities", "error", "i18n", "time"],
    ),
    (
        "seed.rs",
        &["auth", "domain", "entities", "error", "i18n", "time"],
    ),
    ("storage.rs", &["config"]),
    ("entities", &[]),
    ("error.rs", &["i18n"]),
    ("i18n", &[]),
    ("db.rs", &[]),
    ("time.rs", &[]),
];

/// The `crate::<module>` names in the code (not the comments) of the files of one part:
/// a folder or a file directly under `src/`.
fn imports_of(part: &str) -> BTreeMap<String, Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(part);
    let mut files = Vec::new();
    if root.is_dir() {
        rust_files(&root, &mut files);
    } else {
        files.push(root.clone());
    }
    assert!(!files.is_empty(), "no sources under {}", root.display());
    let own = part.trim_end_matches(".rs");
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let code: String = source
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for module in crate_modules(&code) {
            if module != own {
                found
                    .entry(module)
                    .or_default()
                    .push(file.display().to_string());
            }
        }
    }
    found
}

#[test]
fn the_parser_sees_grouped_and_nested_imports() {
    let found = crate_modules(
        "use crate::{auth::Viewer, domain::{a, b::{c}}, state::AppState};\nfn f() { crate::http::x(); }",
    );
    assert_eq!(found, ["auth", "domain", "state", "http"]);
}

/// No part names a module outside its list; every part of `src/` has a list.
#[test]
fn every_part_imports_only_what_the_architecture_allows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut bad = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name == "main.rs" || name == "lib.rs" {
            continue;
        }
        let Some((_, allowed)) = ALLOWED.iter().find(|(part, _)| *part == name) else {
            bad.push(format!(
                "src/{name} has no row in ALLOWED (and the architecture page)"
            ));
            continue;
        };
        for (module, files) in imports_of(&name) {
            if !allowed.contains(&module.as_str()) {
                bad.push(format!("{name} names crate::{module} in {files:?}"));
            }
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

/// The table of docs/ARCHITECTURE.md says the same as [`ALLOWED`]: each row's parts
/// (first column) and the names before " — " in its last column.
#[test]
fn the_architecture_page_states_these_rules() {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ARCHITECTURE.md"))
            .unwrap();
    let mut stated: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in page.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").collect();
        let (parts, allowed) = (cells[0], cells[cells.len() - 1]);
        let allowed = allowed.split(" — ").next().unwrap_or_default();
        let names: BTreeSet<String> = ticked(allowed)
            .into_iter()
            .map(|t| first_name(&t))
            .collect();
        for part in ticked(parts) {
            stated.insert(part.trim_end_matches('/').to_owned(), names.clone());
        }
    }
    for (part, allowed) in ALLOWED {
        let want: BTreeSet<String> = allowed.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(
            stated.get(*part),
            Some(&want),
            "docs/ARCHITECTURE.md's row for `{part}` and ALLOWED differ"
        );
    }
}

/// The `code spans` of a Markdown cell.
fn ticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}
