use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use defect_control::entities::enums::Role;
use serde_json::json;

use crate::helpers::{apps, outcome};

fn nested(depth: usize) -> String {
    // projects(1) nodes(2) then stages/project pairs, closed by a scalar.
    let mut q = String::from("{ projects { nodes { ");
    let mut open = 2;
    let mut stage = true;
    while open < depth - 1 {
        q.push_str(if stage { "stages { " } else { "project { " });
        stage = !stage;
        open += 1;
    }
    q.push_str("id ");
    q.push_str(&"} ".repeat(open));
    q.push('}');
    q
}

#[tokio::test]
async fn deep_queries_are_refused_before_running_and_realistic_ones_pass() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        let body = app.gql(Some(&admin.token), &nested(20), json!({})).await;
        assert_eq!(outcome(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
        assert!(body["data"].is_null());
        let body = app.gql(Some(&admin.token), &nested(8), json!({})).await;
        assert_eq!(outcome(&body), "OK", "{body}");
        // Without a token the limit still applies first: nothing ran.
        assert_eq!(
            outcome(&app.gql(None, &nested(20), json!({})).await),
            "GRAPHQL_VALIDATION_FAILED"
        );
    }
}

#[tokio::test]
async fn a_thousand_aliased_heavy_fields_are_refused() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        let fields: String = (0..1000)
            .map(|i| format!("a{i}: projects {{ totalCount nodes {{ id }} }} "))
            .collect();
        let body = app
            .gql(Some(&admin.token), &format!("{{ {fields} }}"), json!({}))
            .await;
        assert_eq!(outcome(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    }
}

#[tokio::test]
async fn malformed_documents_and_variables_get_coded_errors() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        let t = Some(admin.token.as_str());
        let cases = [
            ("{ me { id ", json!({}), "GRAPHQL_PARSE_FAILED"),
            (
                "{ me { nosuchfield } }",
                json!({}),
                "GRAPHQL_VALIDATION_FAILED",
            ),
            (
                "query($n: Int) { users(first: $n) { totalCount } }",
                json!({ "n": "ten" }),
                // Variables that do not coerce are the caller's input (EVENTS.md, GraphQL
                // over HTTP), not a document that fails validation.
                "BAD_USER_INPUT",
            ),
            (
                "query($n: Int) { users(first: $n) { totalCount } }",
                json!({ "n": 1000 }),
                "BAD_USER_INPUT",
            ),
            (
                "query($n: Int) { users(first: $n) { totalCount } }",
                json!({ "n": -5 }),
                "BAD_USER_INPUT",
            ),
            (
                "query($n: Int) { users(first: $n) { totalCount } }",
                json!({ "n": 4294967296u64 }),
                "BAD_USER_INPUT",
            ),
            (
                "{ projects(first: 101) { totalCount } }",
                json!({}),
                "BAD_USER_INPUT",
            ),
            (
                "{ users(after: \"garbage\") { totalCount } }",
                json!({}),
                "BAD_USER_INPUT",
            ),
            (
                "query A { me { id } } query B { me { id } }",
                json!({}),
                "GRAPHQL_VALIDATION_FAILED",
            ),
            (
                "mutation { deleteProject(id: \"1; DROP TABLE projects\") }",
                json!({}),
                "NOT_FOUND",
            ),
        ];
        for (query, vars, code) in cases {
            let body = app.gql(t, query, vars.clone()).await;
            assert_eq!(
                outcome(&body),
                code,
                "[{}] {query} {vars}: {body}",
                app.backend
            );
            let message = body["errors"][0]["message"].as_str().unwrap_or("");
            assert!(
                !message.to_lowercase().contains("select "),
                "no SQL in {message}"
            );
        }
        // SQL-looking ids in a nullable lookup are simply not there.
        let data = app
            .ok(&admin, "{ project(id: \"1 OR 1=1\") { id } }", json!({}))
            .await;
        assert!(data["project"].is_null());
        assert_eq!(app.count("projects").await, 0);
    }
}

#[tokio::test]
async fn bodies_that_are_not_graphql_requests_are_parse_failures() {
    for app in apps().await {
        for (ct, body) in [
            ("application/json", "{not json"),
            ("application/json", "[1,2]"),
        ] {
            let res = app
                .request(
                    Request::post("/graphql")
                        .header("content-type", ct)
                        .body(Body::from(body))
                        .unwrap(),
                )
                .await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(
                res.body["errors"][0]["extensions"]["code"], "GRAPHQL_PARSE_FAILED",
                "{body}"
            );
        }
        // Not a GraphQL content type at all: 415 (see graphql_http.rs for the rest).
        let res = app
            .request(
                Request::post("/graphql")
                    .header("content-type", "text/plain")
                    .body(Body::from("hello"))
                    .unwrap(),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            res.body["errors"][0]["extensions"]["code"],
            "GRAPHQL_PARSE_FAILED"
        );
        // Over the body limit by declaration: 413 with a code, before anything is read.
        let res = app
            .request(
                Request::post("/graphql")
                    .header("content-type", "application/json")
                    .header("content-length", (100u64 << 20).to_string())
                    .body(Body::from("{}"))
                    .unwrap(),
            )
            .await;
        assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            res.body["errors"][0]["extensions"]["code"],
            "PAYLOAD_TOO_LARGE"
        );
    }
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_refused() {
    for app in crate::helpers::apps_with(|c| c.max_upload_bytes = 1024).await {
        let huge = format!(
            "{{\"query\":\"{{ me {{ id }} }}\",\"variables\":{{\"x\":\"{}\"}}}}",
            "x".repeat(2 << 20)
        );
        let stream = futures_util::stream::iter(
            huge.into_bytes()
                .chunks(64 * 1024)
                .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
                .collect::<Vec<_>>(),
        );
        let res = app
            .request(
                Request::post("/graphql")
                    .header("content-type", "application/json")
                    .body(Body::from_stream(stream))
                    .unwrap(),
            )
            .await;
        assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", res.body);
        assert_eq!(
            res.body["errors"][0]["extensions"]["code"],
            "PAYLOAD_TOO_LARGE"
        );
    }
}

#[tokio::test]
async fn mutations_over_get_are_refused_and_queries_work() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        let q = |s: &str| {
            s.replace(' ', "%20")
                .replace('{', "%7B")
                .replace('}', "%7D")
                .replace('"', "%22")
        };
        let res = app
            .get(
                &format!(
                    "/graphql?query={}",
                    q("mutation { createProject(input: {title: \"x\"}) { id } }")
                ),
                Some(&admin.token),
            )
            .await;
        assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            res.body["errors"][0]["extensions"]["code"],
            "GRAPHQL_VALIDATION_FAILED"
        );
        assert_eq!(app.count("projects").await, 0);
        let res = app
            .get(
                &format!("/graphql?query={}", q("{ me { username } }")),
                Some(&admin.token),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.body["data"]["me"]["username"], admin.username.as_str());
        // Without a query: the GraphiQL page.
        let res = app.get("/graphql", None).await;
        assert_eq!(res.status, StatusCode::OK);
        assert!(res.body.as_str().unwrap_or("").contains("graphiql"));
    }
}
