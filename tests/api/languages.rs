//! Russian and English: the same refused request answers with the same code in the
//! language `Accept-Language` asks for (English when absent or unknown), over GraphQL and
//! REST; the CSV's human form speaks the language `?lang=` names (never
//! `Accept-Language`); every message id has words in every language; and every edge
//! speaks the language.
use std::time::Duration;

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use defect_control::{
    entities::enums::Role,
    i18n::{Lang, Msg},
};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::{
    builders::{DefectBuilder, ProjectBuilder},
    export::fetch,
    helpers::{Actor, TestApp, apps, apps_with},
    subscriptions::{Got, recv, send},
};

pub async fn gql_in(
    app: &TestApp,
    lang: Option<&str>,
    actor: &Actor,
    query: &str,
    vars: Value,
) -> Value {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {}", actor.token));
    if let Some(l) = lang {
        req = req.header(header::ACCEPT_LANGUAGE, l);
    }
    let body = json!({ "query": query, "variables": vars }).to_string();
    app.request(req.body(Body::from(body)).unwrap()).await.body
}

fn error(body: &Value) -> (String, String) {
    let e = &body["errors"][0];
    (
        e["extensions"]["code"]
            .as_str()
            .unwrap_or("<none>")
            .to_owned(),
        e["message"].as_str().unwrap_or("").to_owned(),
    )
}

const CREATE: &str = r"
    mutation($i: CreateDefectInput!) {
      createDefect(input: $i) { id }
    }
";
const MOVE: &str = r"
    mutation($id: ID!) {
      changeDefectStatus(id: $id, status: CLOSED) { id }
    }
";

#[tokio::test]
async fn a_refused_mutation_answers_in_the_asked_language_with_the_same_code() {
    for app in apps().await {
        let mgr = app.actor(Role::Manager).await;
        let observer = app.actor(Role::Observer).await;
        let p = ProjectBuilder::new(&mgr, "Языки").create(&app).await;
        let d = DefectBuilder::new(p.id, &mgr, &mgr).create(&app).await;
        let pid = p.id.to_string();
        let before = app.snapshot().await;
        let cases = [
            (
                &mgr,
                CREATE,
                json!({ "i": { "projectId": pid, "title": "   " } }),
                "BAD_USER_INPUT",
                "title: must not be empty",
                "title: не может быть пустым",
            ),
            (
                &observer,
                CREATE,
                json!({ "i": { "projectId": pid, "title": "x" } }),
                "FORBIDDEN",
                "you may not register defects in this project",
                "вы не можете регистрировать дефекты в этом проекте",
            ),
            (
                &mgr,
                MOVE,
                json!({ "id": d.id.to_string() }),
                "INVALID_TRANSITION",
                "only a defect in review can be closed",
                "закрыть можно только дефект на проверке",
            ),
            (
                &mgr,
                CREATE,
                json!({ "i": { "projectId": pid, "title": "x".repeat(301) } }),
                "BAD_USER_INPUT",
                "title: must be at most 300 characters",
                "title: не больше 300 символов",
            ),
        ];
        for (who, query, vars, code, en, ru) in cases {
            for (lang, want) in [
                (Some("ru-RU,ru;q=0.9,en;q=0.8"), ru),
                (Some("ru"), ru),
                (None, en),
                (Some("en-US"), en),
                (Some("de-DE"), en),
                (Some("*;q=0.1, x-junk;;"), en),
            ] {
                let body = gql_in(&app, lang, who, query, vars.clone()).await;
                assert_eq!(
                    error(&body),
                    (code.to_owned(), want.to_owned()),
                    "[{}] {lang:?}",
                    app.backend
                );
            }
        }
        assert_eq!(app.snapshot().await, before, "refused in every language");
    }
}

#[tokio::test]
async fn rest_errors_speak_the_language_too() {
    for app in apps().await {
        let engineer = app.actor(Role::Engineer).await;
        for (lang, want) in [
            (Some("ru"), "выгрузка доступна администраторам и менеджерам"),
            (None, "the export is for admins and managers"),
        ] {
            let mut req = Request::get("/api/reports/export/")
                .header(header::AUTHORIZATION, format!("Bearer {}", engineer.token));
            if let Some(l) = lang {
                req = req.header(header::ACCEPT_LANGUAGE, l);
            }
            let res = app.request(req.body(Body::empty()).unwrap()).await;
            assert_eq!(res.status, StatusCode::FORBIDDEN);
            assert_eq!(res.body["error"]["code"], "FORBIDDEN");
            assert_eq!(
                res.body["error"]["message"], want,
                "[{}] {lang:?}",
                app.backend
            );
        }
        let login = Request::post("/api/auth/login/")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT_LANGUAGE, "ru")
            .body(Body::from(
                json!({ "username": "nobody", "password": "wrong-password" }).to_string(),
            ))
            .unwrap();
        let res = app.request(login).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.body["error"]["code"], "UNAUTHENTICATED");
        assert_eq!(
            res.body["error"]["message"],
            "неверное имя пользователя или пароль"
        );
    }
}

#[tokio::test]
async fn the_csv_speaks_a_language_only_when_asked_by_name() {
    for app in apps().await {
        let mgr = app.actor(Role::Manager).await;
        let p = ProjectBuilder::new(&mgr, "CSV")
            .code("КС")
            .create(&app)
            .await;
        DefectBuilder::new(p.id, &mgr, &mgr)
            .title("Трещина")
            .create(&app)
            .await;
        let machine = fetch(&app, Some(&mgr.token), &[]).await;
        let (header, rows) = machine.table();
        assert_eq!(header[..3], ["key", "id", "project"]);
        assert_eq!(
            (rows[0][6].as_str(), rows[0][7].as_str()),
            ("medium", "new")
        );
        let ru = fetch(&app, Some(&mgr.token), &[("lang", "ru".into())]).await;
        let (header, rows) = ru.table_with(b';');
        assert_eq!(header[..3], ["Ключ", "ID", "Проект"], "[{}]", app.backend);
        assert_eq!(
            (rows[0][6].as_str(), rows[0][7].as_str()),
            ("Средний", "Новый")
        );
        assert_eq!(rows[0][0], "КС-001");
        // `Accept-Language` chooses no form: a browser's fetch() sends one. Only ?lang=.
        for (accept, param, first) in [
            (Some("ru"), None, &b"key,id,"[..]),
            (Some("ru-RU,ru;q=0.9"), None, b"key,id,"),
            (None, Some("ru"), "\u{feff}Ключ;ID;".as_bytes()),
            (Some("en"), Some("ru"), "\u{feff}Ключ;ID;".as_bytes()),
            (Some("ru"), Some("en"), b"Key,ID,"),
        ] {
            let q = param.map(|l| format!("?lang={l}")).unwrap_or_default();
            let mut req = Request::get(format!("/api/reports/export/{q}"))
                .header(header::AUTHORIZATION, format!("Bearer {}", mgr.token));
            if let Some(a) = accept {
                req = req.header(header::ACCEPT_LANGUAGE, a);
            }
            let res = app.request(req.body(Body::empty()).unwrap()).await;
            assert_eq!(res.status, StatusCode::OK);
            let text = res.body.as_str().unwrap_or("").to_owned();
            assert!(
                text.as_bytes().starts_with(first),
                "[{}] {accept:?} {param:?}: {text}",
                app.backend
            );
        }
    }
}

#[tokio::test]
async fn a_refused_export_answers_in_accept_language_not_in_lang() {
    for app in apps().await {
        let mgr = app.actor(Role::Manager).await;
        for (accept, query, want) in [
            (
                Some("ru"),
                "?status=done",
                "status: ожидается одно из: new, in_progress, review, closed, cancelled",
            ),
            (Some("ru"), "?lang=fr", "lang: ожидается одно из: en, ru"),
            (
                Some("en"),
                "?lang=ru&status=done",
                "status: expected any of new, in_progress, review, closed, cancelled",
            ),
            (
                None,
                "?lang=ru&status=done",
                "status: expected any of new, in_progress, review, closed, cancelled",
            ),
        ] {
            let mut req = Request::get(format!("/api/reports/export/{query}"))
                .header(header::AUTHORIZATION, format!("Bearer {}", mgr.token));
            if let Some(a) = accept {
                req = req.header(header::ACCEPT_LANGUAGE, a);
            }
            let res = app.request(req.body(Body::empty()).unwrap()).await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(res.body["error"]["code"], "BAD_USER_INPUT");
            assert_eq!(
                res.body["error"]["message"], want,
                "[{}] {accept:?} {query}",
                app.backend
            );
        }
    }
}

/// Enumerated from the type, not scanned from the sources: every message the server can
/// say (`Msg::examples`, one of each variant, written by the same macro as the enum) has
/// words in every language, Russian ones in Russian, with no placeable left unfilled.
#[test]
fn every_message_id_has_words_in_every_language() {
    let examples = Msg::examples();
    assert!(examples.len() > 100, "{}", examples.len());
    for m in &examples {
        let en = m.text(Lang::En);
        let ru = m.text(Lang::Ru);
        for words in [&en, &ru] {
            assert!(
                !words.is_empty() && !words.contains('{') && words != m.id(),
                "{}: {words:?}",
                m.id()
            );
        }
        assert!(cyrillic(&ru), "{}: no Russian in {ru:?}", m.id());
        assert_ne!(en, ru, "{}", m.id());
    }
}

fn cyrillic(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё'))
}

/// One refused request per edge, asked for in Russian: the code (and status) as in
/// English, the words Russian. GraphQL over HTTP (a resolver's error, the engine's parse
/// and validation errors, a variable that does not coerce), over a WebSocket, the REST
/// shim, a multipart upload without a token and the request timeout (raised outside
/// the executor), axum's own rejection.
#[tokio::test]
async fn every_edge_answers_in_russian_with_the_same_code() {
    for app in apps().await {
        let mgr = app.actor(Role::Manager).await;
        let p = ProjectBuilder::new(&mgr, "Края").create(&app).await;
        let blank = json!({ "i": { "projectId": p.id.to_string(), "title": "  " } });
        let graphql = |query: &str, vars: Value| {
            let body = json!({ "query": query, "variables": vars }).to_string();
            Request::post("/graphql")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {}", mgr.token))
                .header(header::ACCEPT_LANGUAGE, "ru")
                .body(Body::from(body))
                .unwrap()
        };
        let multipart = Request::post("/graphql")
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XYZ")
            .header(header::ACCEPT_LANGUAGE, "ru")
            .body(Body::from("--XYZ--\r\n"))
            .unwrap();
        let login = Request::post("/api/auth/login/")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT_LANGUAGE, "ru")
            .body(Body::from(
                json!({ "username": "nobody", "password": "wrong-password" }).to_string(),
            ))
            .unwrap();
        let wrong_method = Request::delete("/api/auth/login/")
            .header(header::ACCEPT_LANGUAGE, "ru")
            .body(Body::empty())
            .unwrap();
        let text_plain = Request::post("/graphql")
            .header(header::CONTENT_TYPE, "text/plain")
            .header(header::ACCEPT_LANGUAGE, "ru")
            .body(Body::from("{ me { id } }"))
            .unwrap();
        // Fields nested past the depth limit through a chain of fragments: the document
        // limits' own message (not the engine's).
        let mut deep = String::from("{ f0 { ...F1 } }");
        for i in 1..14 {
            deep.push_str(&format!(
                " fragment F{i} on T {{ f{i} {{ ...F{} }} }}",
                i + 1
            ));
        }
        deep.push_str(" fragment F14 on T { f14 }");
        let cases: Vec<(&str, Request<Body>, StatusCode, &str)> = vec![
            (
                "graphql content type",
                text_plain,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "GRAPHQL_PARSE_FAILED",
            ),
            (
                "graphql document limits",
                graphql(&deep, json!({})),
                StatusCode::OK,
                "GRAPHQL_VALIDATION_FAILED",
            ),
            (
                "graphql resolver",
                graphql(CREATE, blank.clone()),
                StatusCode::OK,
                "BAD_USER_INPUT",
            ),
            (
                "graphql parse",
                graphql("{", json!({})),
                StatusCode::OK,
                "GRAPHQL_PARSE_FAILED",
            ),
            (
                "graphql validation",
                graphql("{ nope }", json!({})),
                StatusCode::OK,
                "GRAPHQL_VALIDATION_FAILED",
            ),
            (
                "graphql variables",
                graphql(CREATE, json!({})),
                StatusCode::OK,
                "BAD_USER_INPUT",
            ),
            (
                "multipart",
                multipart,
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
            ),
            ("rest", login, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            (
                "axum",
                wrong_method,
                StatusCode::METHOD_NOT_ALLOWED,
                "BAD_USER_INPUT",
            ),
        ];
        for (edge, req, status, code) in cases {
            let res = app.request(req).await;
            let (got_code, message) = coded(&res.body);
            assert_eq!(
                (res.status, got_code.as_str()),
                (status, code),
                "[{}] {edge}: {}",
                app.backend,
                res.body
            );
            assert!(cyrillic(&message), "[{}] {edge}: {message:?}", app.backend);
        }

        // Over a WebSocket: the language of the upgrade request.
        let (addr, stop) = crate::subscriptions::serve(&app).await;
        let mut req = format!("ws://{addr}/graphql/ws")
            .into_client_request()
            .unwrap();
        let h = req.headers_mut();
        h.insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        h.insert("accept-language", "ru".parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        send(
            &mut ws,
            json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", mgr.token) } }),
        )
        .await;
        let Got::Json(ack) = recv(&mut ws, Duration::from_secs(5)).await else {
            panic!("no ack");
        };
        assert_eq!(ack["type"], "connection_ack");
        send(
            &mut ws,
            json!({ "id": "1", "type": "subscribe", "payload": { "query": CREATE, "variables": blank } }),
        )
        .await;
        let Got::Json(v) = recv(&mut ws, Duration::from_secs(5)).await else {
            panic!("no answer on the socket");
        };
        let errors = if v["payload"].is_array() {
            json!({ "errors": v["payload"] })
        } else {
            v["payload"].clone()
        };
        let (code, message) = coded(&errors);
        assert_eq!(code, "BAD_USER_INPUT", "[{}] websocket: {v}", app.backend);
        assert_eq!(message, "title: не может быть пустым", "[{}]", app.backend);
        stop.send(()).ok();
    }

    // The request timeout, on `/graphql` and on the REST shim: no request can finish in
    // no time (the token is looked up in the database first).
    for app in apps_with(|c| c.request_timeout = Duration::ZERO).await {
        let mgr = app.actor(Role::Manager).await;
        for (edge, uri, graphql) in [
            ("timeout graphql", "/graphql", true),
            ("timeout rest", "/api/reports/export/", false),
        ] {
            let req = if graphql {
                Request::post(uri)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(json!({ "query": "{ me { id } }" }).to_string()))
            } else {
                Request::get(uri).body(Body::empty())
            };
            let mut req = req.unwrap();
            let h = req.headers_mut();
            h.insert(
                header::AUTHORIZATION,
                format!("Bearer {}", mgr.token).parse().unwrap(),
            );
            h.insert(header::ACCEPT_LANGUAGE, "ru".parse().unwrap());
            let res = app.request(req).await;
            let (code, message) = coded(&res.body);
            assert_eq!(
                (res.status, code.as_str()),
                (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
                "[{}] {edge}: {}",
                app.backend,
                res.body
            );
            assert_eq!(
                message, "запрос выполнялся дольше 0 с",
                "[{}] {edge}",
                app.backend
            );
        }
    }
}

/// (code, message) of a GraphQL or REST error body.
fn coded(body: &Value) -> (String, String) {
    let e = if body["errors"].is_array() {
        &body["errors"][0]
    } else {
        &body["error"]
    };
    let code = e["extensions"]["code"]
        .as_str()
        .or_else(|| e["code"].as_str())
        .unwrap_or("<none>");
    (
        code.to_owned(),
        e["message"].as_str().unwrap_or("").to_owned(),
    )
}
