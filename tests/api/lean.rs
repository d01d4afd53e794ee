//! The two roads a query takes (docs/ARCHITECTURE.md, "A request, end to end"): the full
//! schema with the safety net as an extension, and the lean road (the transport's own
//! coercion and argument checks, then the schema without extensions). They must answer
//! every document identically, data and errors alike, for every role: a corpus of the
//! documents screens and the test suite send (lists with filters, fragments, aliases,
//! directives and nested relations, detail, reports, users, the journal, keys) and of
//! refused ones (bad arguments, bad variables, unknown fields, limits), run through both.
//! An async-graphql upgrade that changes what the safety net does must fail here, not in
//! production (docs/ARCHITECTURE.md, "async-graphql internals").
use async_graphql::Request;
use chrono::{Duration, Utc};
use defect_control::{
    auth::viewer::{Auth, ClientAddr},
    entities::enums::{DefectStatus, Priority},
    graphql::{
        Schemas, build_schemas,
        context::PublicOrigin,
        errors::{self, DocumentChecked},
        limits, loaders,
    },
};
use serde_json::{Value, json};

use crate::{
    builders::{DefectBuilder, ProjectBuilder},
    helpers::{Actor, TestApp, apps},
};

/// How many documents at the head of the corpus an admin's screen sends successfully;
/// the rest are refused.
const SCREENS: usize = 15;

/// `(document, variables)`: what the corpus runs for every role.
fn corpus(project: &str, defect: &str, key: &str) -> Vec<(String, Value)> {
    let p = json!({ "p": project });
    let d = json!({ "d": defect });
    let docs: Vec<(&str, Value)> = vec![
        ("{ me { id username role } }", json!({})),
        ("{ __typename me { __typename id } }", json!({})),
        (
            "query($p: ID) { defects(first: 10, filter: { projectId: $p }) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id key title status priority deadline isOverdue version performer { username } author { username } stage { title } project { title code defectCounts { open overdue byStatus { status count } } } commentCount } } } }",
            p.clone(),
        ),
        (
            "query($p: ID) { defects(first: 2, orderBy: { field: NUMBER, direction: ASC }, filter: { projectId: $p, status: [NEW, IN_PROGRESS, NEW], priority: [HIGH, LOW] }) { totalCount nodes { key } pageInfo { endCursor hasNextPage } } }",
            p.clone(),
        ),
        (
            "query($p: ID) { defects(filter: { projectId: $p, overdue: true }) { totalCount nodes { title deadline } } }",
            p.clone(),
        ),
        (
            "{ defects(filter: { search: \"crack\" }) { totalCount nodes { title } } }",
            json!({}),
        ),
        (
            "query($d: ID!) { defect(id: $d) { ...Detail history { fromStatus toStatus comment changedBy { username } } comments { body author { username } defect { id commentCount } } attachments { id } activity(first: 5) { totalCount nodes { kind changes { field from to } } } allowedTransitions } } fragment Detail on Defect { id key title description status version location { x y } }",
            d.clone(),
        ),
        (
            "query($d: ID!, $yes: Boolean!) { defect(id: $d) { a: title b: title @include(if: $yes) c: status @skip(if: $yes) } }",
            json!({ "d": defect, "yes": true }),
        ),
        (
            "query($k: String!) { defectByKey(key: $k) { id title } }",
            json!({ "k": key }),
        ),
        (
            "{ projects(first: 5) { totalCount nodes { title code status members { username role } stages { title } defectCounts { open overdue } } } }",
            json!({}),
        ),
        (
            "{ reports { summary { total open overdue byStatus { status count } byPriority { priority count } avgResolutionHours } } }",
            json!({}),
        ),
        (
            "{ reports { byProject { project { title } total open overdue } byEngineer { engineer { username } assigned closed } } }",
            json!({}),
        ),
        (
            "{ users(first: 5) { totalCount nodes { username email role isActive } } }",
            json!({}),
        ),
        (
            "{ activity(first: 5, filter: { kinds: [CREATED, COMMENTED, CREATED] }) { totalCount nodes { kind actor { username } comment { body } defect { title } } } }",
            json!({}),
        ),
        (
            "{ deletedDefects(first: 5) { totalCount nodes { id title deletedAt } } }",
            json!({}),
        ),
        // Refused, with codes: each must be refused the same way on both roads.
        ("{ defects(first: 1000) { totalCount } }", json!({})),
        (
            "query($d: ID!) { defect(id: $d) { title } }",
            json!({ "d": "999999" }),
        ),
        ("query($d: ID!) { defect(id: $d) { title } }", json!({})),
        (
            "query($d: ID!) { defect(id: $d) { title } }",
            json!({ "d": [1, 2] }),
        ),
        (
            "query($f: DefectFilter) { defects(filter: $f) { totalCount } }",
            json!({ "f": { "status": ["DONE"] } }),
        ),
        (
            "query($f: DefectFilter) { defects(filter: $f) { totalCount } }",
            json!({ "f": { "createdFrom": "yesterday" } }),
        ),
        (
            "{ defects(filter: { deadlineFrom: \"2026-13-01\" }) { totalCount } }",
            json!({}),
        ),
        ("{ defects { nope } }", json!({})),
        (
            "{ defectByKey(key: \"not a key at all\") { id } }",
            json!({}),
        ),
        (
            "{ activity(after: \"bm90IGEgY3Vyc29y\") { totalCount } }",
            json!({}),
        ),
        (
            "{ reports { summary(filter: { from: \"2026-02-01\", to: \"2026-01-01\" }) { total } } }",
            json!({}),
        ),
        ("query($p: ID!) { project(id: $p) { title nope } }", p),
    ];
    docs.into_iter().map(|(q, v)| (q.to_owned(), v)).collect()
}

fn request(app: &TestApp, actor: &Actor, query: &str, variables: &Value) -> Request {
    let request = Request::new(query)
        .variables(async_graphql::Variables::from_json(variables.clone()))
        .data(Auth::Authenticated(actor.viewer()))
        .data(ClientAddr("127.0.0.1".into()))
        .data(PublicOrigin("http://localhost".into()))
        .data(DocumentChecked);
    loaders::register(request, app.db())
}

/// The document as the transport admits it (parse + limits), or the refusal.
fn admitted(query: &str) -> Option<async_graphql::parser::types::ExecutableDocument> {
    let doc = async_graphql::parser::parse_query(query).ok()?;
    limits::check_document(&doc).ok().map(|_| doc)
}

async fn full(schemas: &Schemas, req: Request, query: &str) -> Value {
    let mut req = req;
    if let Some(doc) = admitted(query) {
        req.set_parsed_query(doc);
    }
    serde_json::to_value(schemas.full.execute(req).await).unwrap()
}

async fn lean(schemas: &Schemas, req: Request, query: &str) -> Value {
    let doc = admitted(query).expect("the corpus holds admissible documents");
    serde_json::to_value(errors::execute_checked_query(schemas, req, doc).await).unwrap()
}

#[tokio::test]
async fn the_lean_and_the_full_road_answer_every_document_alike() {
    for app in apps().await {
        let cast = app.cast().await;
        let project = ProjectBuilder::new(&cast.admin, "Tower")
            .code("TWR")
            .member(cast.engineer.id)
            .create(&app)
            .await;
        let stage = app.stage(project.id, "Frame").await;
        let today = Utc::now().date_naive();
        let mut defects = Vec::new();
        for (i, (title, status, priority)) in [
            ("Crack in screed", DefectStatus::New, Priority::High),
            ("Missing fire seal", DefectStatus::InProgress, Priority::Low),
            ("Crack in wall", DefectStatus::Review, Priority::Medium),
            ("Loose rail", DefectStatus::Closed, Priority::High),
        ]
        .into_iter()
        .enumerate()
        {
            let d = DefectBuilder::new(project.id, &cast.manager, &cast.manager)
                .title(title)
                .stage(Some(stage.id))
                .priority(priority)
                .performer(Some(cast.engineer.id))
                .deadline(Some(today - Duration::days(i as i64 - 1)))
                .status(status)
                .create(&app)
                .await;
            defects.push(d);
        }
        let first = defects[0].id.to_string();
        app.ok(
            &cast.manager,
            "mutation($d: ID!) { addComment(defectId: $d, body: \"see the crack\") { id } }",
            json!({ "d": first }),
        )
        .await;
        let schemas = build_schemas(app.state.clone());
        // The lean road needs the registry the full schema's safety net taps on its first
        // request (before that, it hands everything to the full road itself).
        full(
            &schemas,
            request(&app, &cast.admin, "{ __typename }", &json!({})),
            "{ __typename }",
        )
        .await;
        assert!(
            schemas.tap.is_tapped(),
            "the tap has the registry, so the lean road really runs"
        );
        let (mut compared, mut refusals) = (0, 0);
        for actor in [
            &cast.admin,
            &cast.manager,
            &cast.engineer,
            &cast.outsider,
            &cast.observer,
        ] {
            for (n, (query, vars)) in corpus(&first, &first, "TWR-001").into_iter().enumerate() {
                let a = full(&schemas, request(&app, actor, &query, &vars), &query).await;
                if actor.id == cast.admin.id && n < SCREENS {
                    // The first SCREENS documents are what screens send: they must answer,
                    // or the comparison would compare two refusals.
                    assert!(a.get("errors").is_none(), "[{}] {query}: {a}", app.backend);
                }
                if n >= SCREENS {
                    refusals += usize::from(a.get("errors").is_some());
                }
                let b = lean(&schemas, request(&app, actor, &query, &vars), &query).await;
                assert_eq!(
                    a, b,
                    "[{}] {:?}: the roads differ on {query} {vars}",
                    app.backend, actor.role
                );
                compared += 1;
            }
        }
        assert_eq!(compared, 5 * corpus("", "", "").len());
        // Refusals were compared too (not only answers): most of the tail is refused.
        assert!(refusals >= 5 * 8, "[{}] {refusals} refusals", app.backend);
    }
}
