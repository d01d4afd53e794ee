//! Swagger UI for the REST shim from the binary: the page, its assets, its policy, the
//! document it reads, and `API_DOCS=false`.
use axum::http::{StatusCode, header};

use crate::{
    graphiql::{header, links},
    helpers::{TestApp, apps_with},
};

async fn sqlite_app(tweak: impl Fn(&mut defect_control::config::Config)) -> TestApp {
    let mut apps = apps_with(tweak).await;
    apps.swap_remove(0)
}

#[tokio::test]
async fn the_docs_page_and_every_asset_it_loads_come_from_the_server_itself() {
    let app = sqlite_app(|_| {}).await;
    let res = app.get("/api/docs/", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        header(&res, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(header(&res, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    let csp = header(&res, header::CONTENT_SECURITY_POLICY);
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "style-src 'self';",
        "connect-src 'self';",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let page = res.body.as_str().expect("html").to_owned();
    assert!(!page.contains("<script>"), "no inline script");
    assert!(!page.contains("<style"), "no inline style");
    assert!(!page.contains("//"), "no absolute or protocol-relative URL");
    let links = links(&page);
    assert_eq!(links.len(), 4, "{links:?}");
    for link in &links {
        // Relative to /api/docs/: the page's own assets, on this server.
        assert!(link.starts_with("assets/"), "relative to the page: {link}");
        let res = app.get(&format!("/api/docs/{link}"), None).await;
        assert_eq!(res.status, StatusCode::OK, "{link}");
        let kind = header(&res, header::CONTENT_TYPE);
        if link.ends_with(".js") {
            assert_eq!(kind, "text/javascript; charset=utf-8", "{link}");
        } else {
            assert_eq!(kind, "text/css; charset=utf-8", "{link}");
        }
        assert_eq!(header(&res, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        let cache = header(&res, header::CACHE_CONTROL);
        // Vendor files have their version in the name and are cached for a year.
        if link.contains(".min.") {
            assert_eq!(cache, "public, max-age=31536000, immutable", "{link}");
        } else {
            assert_eq!(cache, "no-cache", "{link}");
        }
    }
    // The start script reads the document beside the page and asks no validator.
    let init = app.get("/api/docs/assets/init.js", None).await;
    let init = init.body.as_str().expect("js");
    assert!(init.contains("\"../openapi.json\""), "{init}");
    assert!(init.contains("validatorUrl: null"), "{init}");
    for (file, text) in [
        ("LICENSE.swagger-ui", "Apache License"),
        ("NOTICE.swagger-ui", "SmartBear"),
        ("LICENSES.swagger-ui-bundle", "MIT"),
    ] {
        let res = app.get(&format!("/api/docs/assets/{file}"), None).await;
        assert_eq!(res.status, StatusCode::OK, "{file}");
        assert_eq!(
            header(&res, header::CONTENT_TYPE),
            "text/plain; charset=utf-8"
        );
        assert!(res.body.as_str().unwrap().contains(text), "{file}");
    }
    for path in [
        "/api/docs/assets/..%2F..%2FCargo.toml",
        "/api/docs/assets/swagger-ui-bundle.js.map",
    ] {
        let res = app.get(path, None).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
    }
    // Without the slash the relative links would miss: the browser is sent to it.
    let res = app.get("/api/docs", None).await;
    assert!(res.status.is_redirection(), "{}", res.status);
    assert_eq!(header(&res, header::LOCATION), "docs/");
}

#[tokio::test]
async fn the_document_the_page_reads_is_the_committed_openapi_json() {
    let app = sqlite_app(|_| {}).await;
    let res = app.get("/api/openapi.json", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(header(&res, header::CONTENT_TYPE).starts_with("application/json"));
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"))
            .expect("openapi.json"),
    )
    .expect("json");
    assert_eq!(res.body, committed);
}

#[tokio::test]
async fn api_docs_false_hides_the_page_and_its_assets() {
    let app = sqlite_app(|c| c.api_docs = false).await;
    for path in [
        "/api/docs/",
        "/api/docs",
        "/api/docs/assets/swagger-ui-bundle-5.36.0.min.js",
        "/api/docs/assets/init.js",
    ] {
        let res = app.get(path, None).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.body["error"]["code"], "NOT_FOUND", "{path}");
    }
    // The document itself is still served, for REST clients.
    let res = app.get("/api/openapi.json", None).await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn the_root_sends_a_browser_to_the_docs_when_graphiql_is_off() {
    let app = sqlite_app(|c| c.graphiql = false).await;
    let res = app.get("/", None).await;
    assert!(res.status.is_redirection(), "{}", res.status);
    assert_eq!(header(&res, header::LOCATION), "/api/docs/");
    let app = sqlite_app(|c| {
        c.graphiql = false;
        c.api_docs = false;
    })
    .await;
    let res = app.get("/", None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}
