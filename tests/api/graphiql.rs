//! GraphiQL from the binary: the page, its assets, its policy, and `GRAPHIQL=false`.
use axum::http::{StatusCode, header};

use crate::helpers::{TestApp, apps_with};

async fn sqlite_app(graphiql: bool) -> TestApp {
    let mut apps = apps_with(|c| c.graphiql = graphiql).await;
    apps.swap_remove(0)
}

/// A response header as text (empty when absent).
pub fn header(res: &crate::helpers::Response, name: header::HeaderName) -> &str {
    res.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The `src`/`href` values of a page.
pub fn links(page: &str) -> Vec<String> {
    page.split(" src=\"")
        .skip(1)
        .chain(page.split(" href=\"").skip(1))
        .filter_map(|rest| rest.split('"').next())
        // `data:,` is the empty favicon that saves the browser a request.
        .filter(|link| *link != "data:,")
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_page_and_every_asset_it_loads_come_from_the_server_itself() {
    let app = sqlite_app(true).await;
    let res = app.get("/graphql", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        header(&res, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let csp = header(&res, header::CONTENT_SECURITY_POLICY);
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "style-src 'self';",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let page = res.body.as_str().expect("html").to_owned();
    assert!(!page.contains("<script>"), "no inline script");
    let links = links(&page);
    assert_eq!(links.len(), 6, "{links:?}");
    for link in &links {
        assert!(
            link.starts_with("graphql/assets/"),
            "relative to the server: {link}"
        );
        let res = app.get(&format!("/{link}"), None).await;
        assert_eq!(res.status, StatusCode::OK, "{link}");
        let kind = header(&res, header::CONTENT_TYPE);
        assert!(
            kind.starts_with("text/javascript") || kind.starts_with("text/css"),
            "{link}: {kind}"
        );
        let cache = header(&res, header::CACHE_CONTROL);
        // Vendor files have their version in the name and are cached for a year.
        if link.contains(".min.") {
            assert_eq!(cache, "public, max-age=31536000, immutable", "{link}");
        } else {
            assert_eq!(cache, "no-cache", "{link}");
        }
        let body = res.body.as_str().expect("text");
        // Production builds only: React's development build names itself in a comment.
        assert!(!body.contains("react.development"), "{link}");
    }
    for license in ["LICENSE.graphiql", "LICENSE.react", "LICENSE.react-dom"] {
        let res = app.get(&format!("/graphql/assets/{license}"), None).await;
        assert_eq!(res.status, StatusCode::OK);
        assert!(
            res.body.as_str().unwrap().contains("MIT License"),
            "{license}"
        );
    }
    let res = app.get("/graphql/assets/..%2FCargo.toml", None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn graphiql_false_hides_the_page_and_its_assets() {
    let app = sqlite_app(false).await;
    for path in [
        "/graphql",
        "/graphql/assets/graphiql-4.1.2.min.js",
        "/graphql/assets/init.js",
    ] {
        let res = app.get(path, None).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.body["error"]["code"], "NOT_FOUND", "{path}");
    }
    // `/` sends a browser to the REST shim's docs instead (`API_DOCS`, see api_docs.rs).
    let res = app.get("/", None).await;
    assert_eq!(header(&res, header::LOCATION), "/api/docs/");
    // The endpoint itself still answers queries over GET.
    let res = app.get("/graphql?query=%7B__typename%7D", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["data"]["__typename"], "Query");
}

#[tokio::test]
async fn the_root_sends_a_browser_to_the_playground() {
    let app = sqlite_app(true).await;
    let res = app.get("/", None).await;
    assert!(res.status.is_redirection(), "{}", res.status);
    assert_eq!(header(&res, header::LOCATION), "/graphql");
}
