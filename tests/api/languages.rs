//! Russian and English: the same refused request answers with the same code in the
//! language `Accept-Language` asks for (English when absent or unknown), over GraphQL and
//! REST; the CSV's human form speaks the language `?lang=` names (never `Accept-Language`); and
//! every error message written in the sources has its translation.
use std::path::Path;

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use defect_control::{
    entities::enums::Role,
    i18n::{Lang, localize},
};
use serde_json::{Value, json};

use crate::{
    builders::{DefectBuilder, ProjectBuilder},
    export::fetch,
    helpers::{Actor, TestApp, apps},
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

/// Every English message the sources write (the string literals given to the error
/// constructors, with `{…}` format arguments filled in) has a Russian text: a new message
/// without a translation fails here, not in front of a site engineer.
#[test]
fn every_error_message_in_the_sources_has_a_translation() {
    let constructors = [
        "bad_input(",
        "AppError::Forbidden(",
        "AppError::Conflict(",
        "AppError::NotFound(",
        "AppError::Unauthenticated(",
        "AppError::Unavailable(",
        "AppError::PayloadTooLarge(",
        "forbidden(",
        "require(",
        "not_found(",
        "Refusal::Invalid(",
        "Refusal::Forbidden(",
        "refuse_final(",
        "bad(",
    ];
    // Files whose messages are for the operator (start-up configuration, storage, the
    // seed command: English by design) or mirror graphql-js's own wording (variable
    // coercion); and texts that are not messages (field names, separators).
    let operator_files = ["config.rs", "storage.rs", "seed.rs", "coerce.rs", "main.rs"];
    let skipped = |s: &str| !s.contains(' ') || !s.chars().any(char::is_alphabetic);
    let mut files = Vec::new();
    collect(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut missing = Vec::new();
    let mut checked = 0;
    for file in files {
        if file
            .file_name()
            .is_some_and(|n| operator_files.contains(&n.to_str().unwrap_or("")))
        {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap();
        let source = source.split("#[cfg(test)]").next().unwrap_or("");
        for c in constructors {
            for (at, _) in source.match_indices(c) {
                // The literals of the call: up to its closing parenthesis.
                let call = &source[at..(at + 600).min(source.len())];
                let call = until_close(call);
                for lit in literals(call) {
                    let msg = if c == "not_found(" {
                        format!("{} not found", fill(&lit))
                    } else {
                        fill(&lit)
                    };
                    if skipped(&msg) {
                        continue;
                    }
                    checked += 1;
                    if localize(Lang::Ru, &msg) == msg {
                        missing.push(format!("{}: {msg}", file.display()));
                    }
                }
            }
        }
    }
    assert!(checked > 80, "the scan found {checked} messages");
    assert!(missing.is_empty(), "no Russian text for: {missing:#?}");
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn until_close(call: &str) -> &str {
    let mut depth = 0;
    for (i, ch) in call.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &call[..i];
                }
            }
            _ => {}
        }
    }
    call
}

/// The string literals in a piece of Rust (escapes `\"` kept as `"`).
fn literals(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        s.push(n);
                    }
                }
                '"' => break,
                _ => s.push(c),
            }
        }
        out.push(s);
    }
    out
}

/// `{x}` and `{}` format arguments as a sample value.
fn fill(lit: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in lit.chars() {
        match c {
            '{' => {
                if depth == 0 {
                    out.push('7');
                }
                depth += 1;
            }
            '}' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}
