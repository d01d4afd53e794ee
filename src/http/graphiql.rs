//! GraphiQL from the binary: `GET /graphql` (the page) and `GET /graphql/assets/{file}`.
//!
//! Sites often run the server without internet access, so the page loads nothing from
//! another host: GraphiQL (its standalone UMD bundle), React and ReactDOM (production
//! builds) are pinned files under `assets/graphiql/`, fetched and checked by
//! `scripts/graphiql-assets.sh`, and embedded here at compile time. A handful of static
//! files do not need an embedding crate.
use crate::i18n::Msg;
use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};

use super::{Http, graphql::PublicOrigin};
use crate::{config::Config, error::AppError};

const PAGE: &str = include_str!("graphiql/page.html");

/// Vendor files carry their version in the name, so they never change under a URL.
pub(super) const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Our own small files change with the binary: revalidate each time.
pub(super) const REVALIDATE: &str = "no-cache";

pub(super) const JS: &str = "text/javascript; charset=utf-8";
pub(super) const CSS: &str = "text/css; charset=utf-8";
pub(super) const TEXT: &str = "text/plain; charset=utf-8";

/// `(file name, content type, cache policy, bytes)`.
pub(super) type Asset = (&'static str, &'static str, &'static str, &'static [u8]);

const ASSETS: &[Asset] = &[
    (
        "graphiql-4.1.2.min.js",
        JS,
        IMMUTABLE,
        include_bytes!("../../assets/graphiql/graphiql-4.1.2.min.js"),
    ),
    (
        "graphiql-4.1.2.min.css",
        CSS,
        IMMUTABLE,
        include_bytes!("../../assets/graphiql/graphiql-4.1.2.min.css"),
    ),
    (
        "react-18.3.1.production.min.js",
        JS,
        IMMUTABLE,
        include_bytes!("../../assets/graphiql/react-18.3.1.production.min.js"),
    ),
    (
        "react-dom-18.3.1.production.min.js",
        JS,
        IMMUTABLE,
        include_bytes!("../../assets/graphiql/react-dom-18.3.1.production.min.js"),
    ),
    // The licenses travel with the copies of the code inside the binary.
    (
        "LICENSE.graphiql",
        TEXT,
        IMMUTABLE,
        include_bytes!("../../assets/graphiql/LICENSE.graphiql"),
    ),
    (
        "LICENSE.react",
        TEXT,
        IMMUTABLE,
        include_bytes!("../../assets/graphiql/LICENSE.react"),
    ),
    (
        "LICENSE.react-dom",
        TEXT,
        IMMUTABLE,
        include_bytes!("../../assets/graphiql/LICENSE.react-dom"),
    ),
    (
        "init.js",
        JS,
        REVALIDATE,
        include_bytes!("graphiql/init.js"),
    ),
    (
        "page.css",
        CSS,
        REVALIDATE,
        include_bytes!("graphiql/page.css"),
    ),
];

fn disabled() -> Response {
    AppError::NotFound(Msg::GraphiqlDisabled).into_response()
}

/// The policy of the page: scripts and styles from this server only (no inline script),
/// GraphiQL's fonts and icons are `data:` URIs inside its CSS, requests go to this
/// origin only. WebSocket URLs are not covered by `'self'` in every browser, so the
/// origin's `ws:`/`wss:` form is named for subscriptions.
fn content_security_policy(config: &Config, headers: &HeaderMap) -> String {
    let origin = PublicOrigin::of(config, headers).0;
    let ws = origin
        .strip_prefix("https://")
        .map(|h| format!(" wss://{h}"))
        .or_else(|| origin.strip_prefix("http://").map(|h| format!(" ws://{h}")))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; font-src data:; \
         img-src 'self' data:; connect-src 'self'{ws}; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

/// The page (`GET /graphql` without a query string), or 404 with `GRAPHIQL=false`.
pub fn page(config: &Config, headers: &HeaderMap) -> Response {
    if !config.graphiql {
        return disabled();
    }
    let csp = content_security_policy(config, headers);
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, REVALIDATE),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        PAGE,
    )
        .into_response();
    match HeaderValue::from_str(&csp) {
        Ok(value) => {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, value);
        }
        // The origin is filtered to header-safe characters; should that ever fail,
        // no page is better than a page without its policy.
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
    response
}

/// `GET /graphql/assets/{file}`: the page's scripts, styles and the vendors' licenses.
pub async fn asset(State(http): State<Http>, Path(file): Path<String>) -> Response {
    if !http.state.config.graphiql {
        return disabled();
    }
    serve_asset(ASSETS, &file)
}

/// One of `assets` by name, with its content type and cache policy, never sniffed; a
/// name that is not embedded is NOT_FOUND. GraphiQL's and Swagger UI's files alike.
pub(super) fn serve_asset(assets: &[Asset], file: &str) -> Response {
    let Some((_, content_type, cache, bytes)) = assets.iter().find(|(name, ..)| *name == file)
    else {
        return AppError::NotFound(Msg::NoSuchAsset).into_response();
    };
    (
        [
            (header::CONTENT_TYPE, *content_type),
            (header::CACHE_CONTROL, *cache),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        *bytes,
    )
        .into_response()
}

/// `GET /`: a browser that opens the server's address lands on the playground, or on
/// the REST shim's documentation when the playground is off.
pub async fn root(State(http): State<Http>) -> Response {
    let config = &http.state.config;
    if config.graphiql {
        Redirect::to("/graphql").into_response()
    } else if config.api_docs {
        Redirect::to("/api/docs/").into_response()
    } else {
        AppError::NotFound(Msg::NoSuchEndpoint).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file the page names is one the server has.
    #[test]
    fn the_page_loads_only_embedded_assets() {
        let mut named = 0;
        for part in PAGE.split(['"', '\'']) {
            if let Some(file) = part.strip_prefix("graphql/assets/") {
                named += 1;
                assert!(
                    ASSETS.iter().any(|(n, ..)| *n == file),
                    "{file} is embedded"
                );
            }
            assert!(!part.contains("://"), "no absolute URL in the page: {part}");
        }
        assert_eq!(named, 6);
    }

    #[test]
    fn the_policy_names_the_websocket_origin() {
        let mut config = Config::for_database("sqlite::memory:");
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("site.local:8000"));
        let csp = content_security_policy(&config, &headers);
        assert!(
            csp.contains("connect-src 'self' ws://site.local:8000;"),
            "{csp}"
        );
        assert!(csp.contains("script-src 'self';"), "{csp}");
        config.public_url = Some("https://defects.example.com".into());
        let csp = content_security_policy(&config, &headers);
        assert!(
            csp.contains("connect-src 'self' wss://defects.example.com;"),
            "{csp}"
        );
    }
}
