use async_graphql::{EmptyMutation, EmptySubscription, ErrorExtensions, Object, Schema};

use super::*;
use crate::error::AppError;

struct Query;

#[Object]
impl Query {
    async fn echo(&self, n: i32) -> i32 {
        n
    }

    /// An uncoded error whose text imitates async-graphql's input errors: the net
    /// must still treat it as a resolver bug, because it looks at the phase.
    async fn leaky(&self) -> async_graphql::Result<i32> {
        Err(async_graphql::Error::new(
            "Failed to parse \"Int\": SELECT * FROM users",
        ))
    }

    async fn refused(&self) -> async_graphql::Result<i32> {
        Err(AppError::Forbidden(crate::error::Msg::OnlyOwnEdit).extend())
    }
}

/// What the net answers for one request: (code, message) of the first error.
async fn first_error(query: &str, vars: serde_json::Value, op: Option<&str>) -> (String, String) {
    let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
        .extension(SafetyNet::default())
        .finish();
    let mut request = Request::new(query).variables(Variables::from_json(vars));
    if let Some(op) = op {
        request = request.operation_name(op);
    }
    let response = schema.execute(request).await;
    let err = response.errors.first().expect("an error");
    let code = match err.extensions.as_ref().and_then(|e| e.get("code")) {
        Some(async_graphql::Value::String(c)) => c.clone(),
        other => panic!("{query}: no string code: {other:?}"),
    };
    (code, err.message.clone())
}

/// One representative per phase; a change of any classification fails here.
#[tokio::test]
async fn every_phase_keeps_its_code() {
    let many_fragments: String = (0..=limits::MAX_FRAGMENTS)
        .map(|i| format!("fragment F{i} on Query {{ echo(n: 1) }} "))
        .collect();
    let many_fragments = format!("{{ echo(n: 1) }} {many_fragments}");
    let none = serde_json::json!({});
    let cases: [(&str, &str, serde_json::Value, Option<&str>, &str); 8] = [
        (
            "parse",
            "{ echo(n: ",
            none.clone(),
            None,
            "GRAPHQL_PARSE_FAILED",
        ),
        (
            "limits",
            &many_fragments,
            none.clone(),
            None,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "validation",
            "{ nope }",
            none.clone(),
            None,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "variables",
            "query ($n: Int!) { echo(n: $n) }",
            serde_json::json!({ "n": "seven" }),
            None,
            "BAD_USER_INPUT",
        ),
        (
            "missing variable",
            "query ($n: Int!) { echo(n: $n) }",
            none.clone(),
            None,
            "BAD_USER_INPUT",
        ),
        (
            "request (unknown operation)",
            "query A { echo(n: 1) }",
            none.clone(),
            Some("B"),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "resolver, coded",
            "{ refused }",
            none.clone(),
            None,
            "FORBIDDEN",
        ),
        (
            "resolver, uncoded",
            "{ leaky }",
            none.clone(),
            None,
            "INTERNAL_SERVER_ERROR",
        ),
    ];
    for (phase, query, vars, op, code) in cases {
        let (got, message) = first_error(query, vars, op).await;
        assert_eq!(got, code, "{phase}: {message}");
        assert!(!message.contains("SELECT"), "{phase} leaks: {message}");
    }
    let (_, message) = first_error("{ leaky }", serde_json::json!({}), None).await;
    assert_eq!(message, "internal server error");
    let (_, message) = first_error("{ refused }", serde_json::json!({}), None).await;
    assert_eq!(
        message, "you may edit only defects you authored or perform",
        "a coded message is kept"
    );
}

#[test]
fn phases_map_to_contract_codes() {
    let table = [
        (Phase::Parse, "GRAPHQL_PARSE_FAILED"),
        (Phase::Validation, "GRAPHQL_VALIDATION_FAILED"),
        (Phase::Input, "BAD_USER_INPUT"),
        (Phase::Request, "GRAPHQL_VALIDATION_FAILED"),
        (Phase::Resolver, "INTERNAL_SERVER_ERROR"),
    ];
    for (phase, code) in table {
        assert_eq!(phase.code(), code, "{phase:?}");
    }
    assert_eq!(
        with_code(coded("x", "FORBIDDEN"), "INTERNAL_SERVER_ERROR")
            .extensions
            .and_then(|e| e.get("code").cloned()),
        Some(async_graphql::Value::from("FORBIDDEN")),
        "an existing code is never overwritten"
    );
}
