use super::*;
use async_graphql::parser::parse_query;

#[test]
fn nested_introspection_lists_are_refused_and_the_standard_query_is_not() {
    let standard = include_str!("../../../tests/data/introspection-query.graphql");
    assert!(check_document(&parse_query(standard).unwrap()).is_ok());
    let two = "{ __schema { types { fields { type { fields { name } } } } } }";
    assert!(check_document(&parse_query(two).unwrap()).is_ok());
    for bomb in [
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
        "{ __type(name: \"Query\") { fields { type { interfaces { possibleTypes { name } } } } } }",
        "{ __schema { types { ...F } } } fragment F on __Type { fields { type { fields { type { inputFields { name } } } } } }",
    ] {
        let err = check_document(&parse_query(bomb).unwrap()).unwrap_err();
        assert!(
            err.message.contains("introspection lists"),
            "{bomb}: {}",
            err.message
        );
    }
}

/// `{ f0 { ...F1 } } fragment F1 on T { f1 { ...F2 } } …`: `levels` fields deep, one
/// fragment per level.
fn chain(levels: usize) -> String {
    let mut doc = String::from("{ f0 { ...F1 } }");
    for i in 1..levels {
        let next = if i + 1 < levels {
            format!("{{ ...F{} }}", i + 1)
        } else {
            String::new()
        };
        doc.push_str(&format!(" fragment F{i} on T {{ f{i} {next} }}"));
    }
    doc
}

/// Issue 20: the depth limit with fragments followed, in the document check that
/// admitted documents are cached behind: a chain of fragments deeper than
/// `MAX_DEPTH` (70 here, past the old limit of the executor's walk) is refused with
/// its own message; `MAX_DEPTH` exactly passes; introspection documents are exempt.
#[test]
fn fields_nested_through_fragments_count_against_the_depth_limit() {
    let max = crate::graphql::MAX_DEPTH;
    assert!(check_document(&parse_query(chain(max)).unwrap()).is_ok());
    for levels in [max + 1, 70] {
        let err = check_document(&parse_query(chain(levels)).unwrap()).unwrap_err();
        assert!(
            err.message.contains("deep with its fragments"),
            "{}",
            err.message
        );
        assert!(err.message.contains(&levels.to_string()), "{}", err.message);
    }
    let standard = include_str!("../../../tests/data/introspection-query.graphql");
    assert!(check_document(&parse_query(standard).unwrap()).is_ok());
}

fn fan_out(levels: usize) -> String {
    let mut doc = String::from("{ ...G0 }");
    for i in 0..levels {
        doc.push_str(&format!(
            " fragment G{i} on Query {{ ...G{} ...G{} }}",
            i + 1,
            i + 1
        ));
    }
    doc.push_str(&format!(" fragment G{levels} on Query {{ __typename }}"));
    doc
}

fn check(query: &str) -> Result<(), String> {
    check_text(query).map_err(|e| e.message)?;
    let doc = parse_query(query).map_err(|e| e.to_string())?;
    check_document(&doc).map(|_| ()).map_err(|e| e.message)
}

#[test]
fn exponential_fragment_fan_out_is_refused_quickly() {
    for levels in [22, 24, 64] {
        let started = std::time::Instant::now();
        let err = check(&fan_out(levels)).expect_err("refused");
        assert!(err.contains("fields with its fragments expanded"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_millis(200));
    }
    // 2^10 = 1,024 expanded selections: allowed; 2^11 = 2,048 is not.
    assert!(check(&fan_out(10)).is_ok());
    assert!(check(&fan_out(11)).is_err());
    // Ending in spreads of a fragment that does not exist changes nothing.
    let unknown = fan_out(30).replace("fragment G30 on Query { __typename }", "");
    let err = check(&unknown).expect_err("refused");
    assert!(err.contains("fields with its fragments expanded"), "{err}");
}

#[test]
fn each_limit_names_itself() {
    let big = format!("{{ me {{ id }} }} #{}", "x".repeat(MAX_DOCUMENT_BYTES));
    assert!(check(&big).unwrap_err().contains("bytes"));
    let tokens = format!("{{ {} }}", "a ".repeat(MAX_TOKENS));
    assert!(check(&tokens).unwrap_err().contains("tokens"));
    let deep = format!("{}{}", "{ a ".repeat(100), "}".repeat(100));
    assert!(check(&deep).unwrap_err().contains("nests"));
    let aliases: String = (0..=MAX_ALIASES)
        .map(|i| format!("a{i}: __typename "))
        .collect();
    assert!(
        check(&format!("{{ {aliases} }}"))
            .unwrap_err()
            .contains("aliases")
    );
    let fragments: String = (0..=MAX_FRAGMENTS)
        .map(|i| format!("fragment F{i} on Query {{ __typename }} "))
        .collect();
    assert!(
        check(&format!("{{ __typename }} {fragments}"))
            .unwrap_err()
            .contains("fragments")
    );
}

#[test]
fn a_fragment_cycle_is_refused_not_followed() {
    let err =
        check("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }").unwrap_err();
    assert!(err.contains("cycle"), "{err}");
}

#[test]
fn strings_and_comments_do_not_count_as_nesting() {
    let q = format!("{{ a(s: \"{}\") }} # {}", "{".repeat(500), "[".repeat(500));
    assert!(check_text(&q).is_ok());
}
