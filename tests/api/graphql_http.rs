//! The GraphQL request pipeline: bounded work per document, GraphQL over HTTP (media
//! types, statuses, body rules), variable coercion, `first`, introspection, uploads.
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use defect_control::entities::enums::Role;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{
    builders::new_defect,
    defects::world,
    files,
    helpers::{TestApp, apps},
};

/// `{ ...G0 } fragment G0 on Query { ...G1 ...G1 } … fragment GN on Query { __typename }`
fn fan_out(levels: usize) -> String {
    let mut doc = String::from("{ ...G0 }");
    for i in 0..levels {
        doc.push_str(&format!(
            " fragment G{i} on Query {{ ...G{n} ...G{n} }}",
            n = i + 1
        ));
    }
    doc.push_str(&format!(" fragment G{levels} on Query {{ __typename }}"));
    doc
}

async fn serve(app: &TestApp) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app.router.clone();
    let server = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    (addr, server)
}

/// One request over a fresh connection; the raw response text.
async fn raw(addr: SocketAddr, request: String) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

fn post_graphql(body: &str) -> String {
    format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragment_fan_out_is_refused_fast_while_health_answers() {
    for app in apps().await {
        let (addr, server) = serve(&app).await;
        let attacks: Vec<_> = [22, 24, 22, 24, 30, 30]
            .into_iter()
            .map(|levels| {
                let body = json!({ "query": fan_out(levels) }).to_string();
                tokio::spawn(async move {
                    let started = Instant::now();
                    let res = raw(addr, post_graphql(&body)).await;
                    (levels, started.elapsed(), res)
                })
            })
            .collect();
        // /health keeps answering while the documents arrive.
        for _ in 0..10 {
            let started = Instant::now();
            let res = tokio::time::timeout(
                Duration::from_secs(1),
                raw(
                    addr,
                    "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(),
                ),
            )
            .await
            .expect("health answers");
            assert!(res.starts_with("HTTP/1.1 200"), "{res}");
            assert!(
                started.elapsed() < Duration::from_millis(100),
                "health took {:?}",
                started.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for attack in attacks {
            let (levels, took, res) = tokio::time::timeout(Duration::from_secs(5), attack)
                .await
                .expect("answered in time")
                .expect("task");
            assert!(
                took < Duration::from_secs(1),
                "{levels} levels took {took:?}"
            );
            assert!(res.starts_with("HTTP/1.1 200"), "{res}");
            assert!(res.contains("GRAPHQL_VALIDATION_FAILED"), "{res}");
            assert!(res.contains("fragments expanded"), "{res}");
        }
        server.abort();
    }
}

/// A screen's query: nested lists and fragments, well inside every limit.
const SCREEN: &str = r#"
query Screen($p: ID!) {
  me { ...Person }
  project(id: $p) {
    id title
    stages { id title }
    members { ...Person }
  }
  defects(filter: { projectId: $p }, first: 50) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { ...DefectRow comments { author { ...Person } } } }
  }
}
fragment Person on User { id username role }
fragment DefectRow on Defect { id title status priority deadline performer { ...Person } author { ...Person } }
"#;

#[tokio::test]
async fn a_deep_but_legal_screen_query_works() {
    for app in apps().await {
        let w = world(&app).await;
        new_defect(&app, &w.cast.manager, &w.project, "Crack").await;
        let data = app
            .ok(&w.cast.manager, SCREEN, json!({ "p": w.project }))
            .await;
        assert_eq!(data["defects"]["totalCount"], 1, "{data}");
        assert_eq!(data["defects"]["edges"][0]["node"]["title"], "Crack");
    }
}

async fn post(
    app: &TestApp,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> crate::helpers::Response {
    let mut req = Request::post("/graphql");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    app.request(req.body(body.into()).unwrap()).await
}

const GRJ: &str = "application/graphql-response+json";

#[tokio::test]
async fn the_standard_introspection_query_is_answered_with_and_without_a_token() {
    for app in apps().await {
        let manager = app.actor(Role::Manager).await;
        for file in [
            "introspection-query.graphql",
            "introspection-query-all-options.graphql",
        ] {
            let query = std::fs::read_to_string(format!(
                "{}/tests/data/{file}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap();
            for token in [None, Some(manager.token.as_str())] {
                let body = app.gql(token, &query, json!({})).await;
                assert!(body.get("errors").is_none(), "{file}: {body}");
                let types = body["data"]["__schema"]["types"].as_array().unwrap();
                assert!(types.iter().any(|t| t["name"] == "Defect"), "{file}");
                assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
            }
        }
        // Depth still guards every other document: a data query as deep as the
        // introspection query is refused before anything runs.
        let deep = "{ me { projects { nodes { defects { nodes { project { defects { nodes { project { defects { nodes { project { defects { nodes { id } } } } } } } } } } } } } } }";
        assert_eq!(
            app.code(Some(&manager.token), deep, json!({})).await,
            "GRAPHQL_VALIDATION_FAILED"
        );
        // A document mixing introspection and data is not introspection-only.
        let mixed = format!("{{ me {{ id }} __schema {{ types {{ name }} }} {} }}", "");
        let body = app.gql(Some(&manager.token), &mixed, json!({})).await;
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(body["data"]["me"]["id"], manager.gid());
    }
}

#[tokio::test]
async fn missing_and_mistyped_variables_are_bad_user_input_naming_the_variable() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        let q = "query ($id: ID!) { defect(id: $id) { id } }";
        let body = app.gql(Some(&admin.token), q, json!({})).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("$id")
        );
        assert!(
            body.get("data").is_none(),
            "a request error has no data: {body}"
        );
        let q = "query ($f: DefectFilter) { defects(filter: $f) { totalCount } }";
        let body = app.gql(Some(&admin.token), q, json!({ "f": "open" })).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("$f")
        );
        let body = app
            .gql(
                Some(&admin.token),
                q,
                json!({ "f": { "createdFrom": "soon" } }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        // Over HTTP with the GraphQL response media type: 400 and no data.
        let res = post(
            &app,
            &[
                ("content-type", "application/json"),
                ("accept", GRJ),
                ("authorization", &format!("Bearer {}", admin.token)),
            ],
            json!({ "query": "query ($id: ID!) { defect(id: $id) { id } }", "variables": {} })
                .to_string(),
        )
        .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            res.body["errors"][0]["extensions"]["code"],
            "BAD_USER_INPUT"
        );
        assert!(res.body.get("data").is_none());
        assert!(
            res.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(GRJ)
        );
    }
}

#[tokio::test]
async fn first_over_100_is_bad_user_input_naming_first_not_a_complexity_refusal() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        for first in [101, 1000, 1_000_000] {
            let q = format!("{{ defects(first: {first}) {{ nodes {{ id comments {{ id }} }} }} }}");
            let body = app.gql(Some(&admin.token), &q, json!({})).await;
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{body}"
            );
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("first")
            );
        }
        assert_eq!(
            app.code(
                Some(&admin.token),
                "{ defects(first: -1) { totalCount } }",
                json!({})
            )
            .await,
            "BAD_USER_INPUT"
        );
    }
}

#[tokio::test]
async fn media_types_and_statuses_follow_graphql_over_http() {
    for app in apps().await {
        let json_ct = [("content-type", "application/json")];
        let q = json!({ "query": "{ __typename }" }).to_string();
        for (accept, expect) in [
            (None, "application/json; charset=utf-8"),
            (Some("application/json"), "application/json; charset=utf-8"),
            (Some("*/*"), "application/json; charset=utf-8"),
            (
                Some(GRJ),
                "application/graphql-response+json; charset=utf-8",
            ),
        ] {
            let mut headers = json_ct.to_vec();
            if let Some(a) = accept {
                headers.push(("accept", a));
            }
            let res = post(&app, &headers, q.clone()).await;
            assert_eq!(res.status, StatusCode::OK);
            assert_eq!(res.headers["content-type"], expect, "{accept:?}");
            assert_eq!(res.body["data"]["__typename"], "Query");
        }
        // Parse and validation failures: 200 under application/json, 400 without data
        // under application/graphql-response+json.
        for (query, code) in [
            ("{", "GRAPHQL_PARSE_FAILED"),
            ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        ] {
            let body = json!({ "query": query }).to_string();
            let res = post(
                &app,
                &[
                    ("content-type", "application/json"),
                    ("accept", "application/json"),
                ],
                body.clone(),
            )
            .await;
            assert_eq!(res.status, StatusCode::OK, "{query}");
            assert_eq!(res.body["errors"][0]["extensions"]["code"], code);
            let res = post(
                &app,
                &[("content-type", "application/json"), ("accept", GRJ)],
                body,
            )
            .await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(res.body["errors"][0]["extensions"]["code"], code);
            assert!(res.body.get("data").is_none(), "{}", res.body);
        }
    }
}

#[tokio::test]
async fn post_needs_json_or_multipart_and_json_bodies_are_bounded() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        let auth = format!("Bearer {}", admin.token);
        let mutation =
            json!({ "query": "mutation { createProject(input: {title: \"csrf\"}) { id } }" })
                .to_string();
        for ct in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("application/json; charset=latin1"),
            None,
        ] {
            let mut headers = vec![("authorization", auth.as_str())];
            if let Some(ct) = ct {
                headers.push(("content-type", ct));
            }
            let res = post(&app, &headers, mutation.clone()).await;
            assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
            assert_eq!(
                res.body["errors"][0]["extensions"]["code"],
                "GRAPHQL_PARSE_FAILED"
            );
        }
        assert_eq!(app.count("projects").await, 0);
        // A JSON body over 1 MiB, even with a small file limit elsewhere: 413.
        let big = json!({ "query": "{ __typename }", "variables": { "x": "y".repeat(1 << 20) } })
            .to_string();
        let res = post(&app, &[("content-type", "application/json")], big).await;
        assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            res.body["errors"][0]["extensions"]["code"],
            "PAYLOAD_TOO_LARGE"
        );
        // A document over the byte limit is a validation failure, before parsing.
        let long =
            json!({ "query": format!("{{ __typename }} #{}", "x".repeat(100_000)) }).to_string();
        let res = post(&app, &[("content-type", "application/json")], long).await;
        assert_eq!(
            res.body["errors"][0]["extensions"]["code"],
            "GRAPHQL_VALIDATION_FAILED"
        );
        assert!(
            res.body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("bytes")
        );
    }
}

/// A multipart request with any operations, map and files.
fn multipart(
    token: Option<&str>,
    operations: Value,
    map: Value,
    parts: &[(String, Vec<u8>)],
) -> Request<Body> {
    let boundary = "----gqlpipe-boundary";
    let mut body = Vec::new();
    for (name, value) in [
        ("operations", operations.to_string()),
        ("map", map.to_string()),
    ] {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (name, bytes) in parts {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"f{name}.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    let mut req = Request::post("/graphql").header(
        "content-type",
        format!("multipart/form-data; boundary={boundary}"),
    );
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    req.body(Body::from(body)).unwrap()
}

const UPLOAD_TWICE: &str = "mutation($d: ID!, $a: Upload!, $b: Upload!) { a: uploadAttachment(defectId: $d, file: $a) { size sha256 } b: uploadAttachment(defectId: $d, file: $b) { size sha256 } }";

#[tokio::test]
async fn uploads_one_file_mapped_twice_eleven_files_and_anonymous_bodies() {
    for app in apps().await {
        let w = world(&app).await;
        let d = new_defect(&app, &w.cast.manager, &w.project, "Wall").await;
        let png = files::png(40, 30);
        // One file, two variables: both see the whole file.
        let ops = json!({ "query": UPLOAD_TWICE, "variables": { "d": d, "a": null, "b": null } });
        let res = app
            .request(multipart(
                Some(&w.cast.manager.token),
                ops.clone(),
                json!({ "0": ["variables.a", "variables.b"] }),
                &[("0".into(), png.clone())],
            ))
            .await;
        assert!(res.body.get("errors").is_none(), "{}", res.body);
        assert_eq!(res.body["data"]["a"]["size"], png.len());
        assert_eq!(res.body["data"]["b"]["size"], png.len());
        assert_eq!(
            res.body["data"]["a"]["sha256"],
            res.body["data"]["b"]["sha256"]
        );
        assert_eq!(app.count("attachments").await, 2);
        // Eleven files: refused with a code, nothing stored.
        let vars: Vec<String> = (0..11).map(|i| format!("$f{i}: Upload!")).collect();
        let fields: Vec<String> = (0..11)
            .map(|i| format!("u{i}: uploadAttachment(defectId: $d, file: $f{i}) {{ id }}"))
            .collect();
        let mut variables = json!({ "d": d });
        let mut map = json!({});
        let mut parts = Vec::new();
        for i in 0..11 {
            variables[format!("f{i}")] = Value::Null;
            map[i.to_string()] = json!([format!("variables.f{i}")]);
            parts.push((i.to_string(), png.clone()));
        }
        let ops = json!({ "query": format!("mutation($d: ID!, {}) {{ {} }}", vars.join(", "), fields.join(" ")), "variables": variables });
        let res = app
            .request(multipart(Some(&w.cast.manager.token), ops, map, &parts))
            .await;
        assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", res.body);
        assert_eq!(
            res.body["errors"][0]["extensions"]["code"],
            "PAYLOAD_TOO_LARGE"
        );
        assert_eq!(app.count("attachments").await, 2);
        // Without a valid token the body is refused unread (a body that is not even
        // multipart gets the same answer: nothing was parsed).
        for token in [None, Some("not-a-token")] {
            let bearer = format!("Bearer {}", token.unwrap_or_default());
            let mut headers = vec![("content-type", "multipart/form-data; boundary=x")];
            if token.is_some() {
                headers.push(("authorization", bearer.as_str()));
            }
            let res = post(&app, &headers, "this is not multipart at all").await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{token:?}");
            assert_eq!(
                res.body["errors"][0]["extensions"]["code"],
                "UNAUTHENTICATED"
            );
        }
        assert_eq!(app.count("attachments").await, 2);
    }
}

/// Input the executor used to refuse from inside a resolver (uncoded, so scrubbed to
/// INTERNAL_SERVER_ERROR) or to panic on: each now gets its contract code up front.
#[tokio::test]
async fn odd_input_gets_a_contract_code_never_internal() {
    for app in apps().await {
        let admin = app.actor(Role::Admin).await;
        let t = Some(admin.token.as_str());
        let upload = "mutation($f: Upload!) { uploadAttachment(defectId: \"1\", file: $f) { id } }";
        let cases = [
            (
                "{ defects(filter: {createdFrom: \"x\"}) { totalCount } }",
                json!({}),
                "BAD_USER_INPUT",
            ),
            (
                "{ defects(filter: {deadlineFrom: \"2026-13-01\"}) { totalCount } }",
                json!({}),
                "BAD_USER_INPUT",
            ),
            (
                "query($d: Date) { defects(filter: {deadlineFrom: $d}) { totalCount } }",
                json!({ "d": "2026-02-30" }),
                "BAD_USER_INPUT",
            ),
            (
                "query($d: DateTime) { defects(filter: {createdFrom: $d}) { totalCount } }",
                json!({ "d": 12 }),
                "BAD_USER_INPUT",
            ),
            // A file reference without a file (JSON body): async-graphql would index past
            // the uploads and panic.
            (
                upload,
                json!({ "f": "#__graphql_file__:0" }),
                "BAD_USER_INPUT",
            ),
            (
                upload,
                json!({ "f": "#__graphql_file__:x" }),
                "BAD_USER_INPUT",
            ),
            (
                "query($s: [DefectStatus!]) { defects(filter: {status: $s}) { totalCount } }",
                json!({ "s": [null] }),
                "BAD_USER_INPUT",
            ),
            ("query Q { me { id } }", json!({}), "OK"),
            (
                "{ me { id @include } }",
                json!({}),
                "GRAPHQL_VALIDATION_FAILED",
            ),
            (
                "subscription { me { id } }",
                json!({}),
                "GRAPHQL_VALIDATION_FAILED",
            ),
        ];
        for (query, vars, code) in cases {
            let body = app.gql(t, query, vars.clone()).await;
            assert_eq!(
                crate::helpers::outcome(&body),
                code,
                "{query} {vars}: {body}"
            );
        }
        // An unknown operation name is a request error too.
        let res = app
            .post_json(
                "/graphql",
                t,
                json!({ "query": "query Q { me { id } }", "operationName": "Nope" }),
            )
            .await;
        assert_eq!(
            res.body["errors"][0]["extensions"]["code"],
            "GRAPHQL_VALIDATION_FAILED"
        );
        assert_eq!(app.count("attachments").await, 0);
    }
}
