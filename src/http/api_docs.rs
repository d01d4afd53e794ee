//! Swagger UI for the REST shim: `GET /api/docs/` (the page) and
//! `GET /api/docs/assets/{file}`, reading the document served at `GET /api/openapi.json`.
//!
//! Why Swagger UI: `swagger-ui-dist` is SmartBear's maintained, plain static build (one
//! self-contained script and one stylesheet, no bundler, no CDN, no web fonts), it is
//! what DRF users know from drf-spectacular and drf-yasg, and its "Try it out" and
//! "Authorize" (bearer token) call the shim from the page. Redoc's standalone bundle
//! injects `<style>` elements at run time (a policy would need `'unsafe-inline'`) and
//! only reads; Scalar's standalone build is several times larger and loads web fonts
//! from its CDN unless told otherwise.
//!
//! Like GraphiQL (`graphiql.rs`), the page loads nothing from another host: the files are
//! pinned under `assets/api-docs/`, fetched and checked by `scripts/api-docs-assets.sh`,
//! and embedded here at compile time.
use crate::i18n::Msg;
use axum::{
    extract::{Path, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Redirect, Response},
};

use super::{
    Http,
    graphiql::{Asset, CSS, IMMUTABLE, JS, REVALIDATE, TEXT, serve_asset},
};
use crate::error::AppError;

const PAGE: &str = include_str!("api_docs/page.html");

const ASSETS: &[Asset] = &[
    (
        "swagger-ui-bundle-5.36.0.min.js",
        JS,
        IMMUTABLE,
        include_bytes!("../../assets/api-docs/swagger-ui-bundle-5.36.0.min.js"),
    ),
    (
        "swagger-ui-5.36.0.min.css",
        CSS,
        IMMUTABLE,
        include_bytes!("../../assets/api-docs/swagger-ui-5.36.0.min.css"),
    ),
    // The license, the NOTICE Apache-2.0 asks to pass on, and the notices of the
    // libraries inside the bundle travel with the copies of the code in the binary.
    (
        "LICENSE.swagger-ui",
        TEXT,
        IMMUTABLE,
        include_bytes!("../../assets/api-docs/LICENSE.swagger-ui"),
    ),
    (
        "NOTICE.swagger-ui",
        TEXT,
        IMMUTABLE,
        include_bytes!("../../assets/api-docs/NOTICE.swagger-ui"),
    ),
    (
        "LICENSES.swagger-ui-bundle",
        TEXT,
        IMMUTABLE,
        include_bytes!("../../assets/api-docs/LICENSES.swagger-ui-bundle"),
    ),
    (
        "init.js",
        JS,
        REVALIDATE,
        include_bytes!("api_docs/init.js"),
    ),
    (
        "page.css",
        CSS,
        REVALIDATE,
        include_bytes!("api_docs/page.css"),
    ),
];

/// The policy of the page: scripts and styles from this server only (no inline script
/// or style element), Swagger UI's icons are `data:` URIs in its CSS, an image that
/// "Try it out" fetched is shown from a `blob:` URL, and requests go to this origin only
/// (the document and "Try it out"; the document names no other server).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; font-src data:; img-src 'self' data: blob:; connect-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn disabled() -> Response {
    AppError::NotFound(Msg::ApiDocsDisabled).into_response()
}

/// `GET /api/docs/`, or 404 with `API_DOCS=false`.
pub async fn page(State(http): State<Http>) -> Response {
    if !http.state.config.api_docs {
        return disabled();
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, REVALIDATE),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        [(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        )],
        PAGE,
    )
        .into_response()
}

/// `GET /api/docs`: the page's links are relative to `/api/docs/`, so send the browser
/// there (relative too, for a path prefix).
pub async fn redirect(State(http): State<Http>) -> Response {
    if !http.state.config.api_docs {
        return disabled();
    }
    Redirect::to("docs/").into_response()
}

/// `GET /api/docs/assets/{file}`: the page's script, styles and the vendor's licenses.
pub async fn asset(State(http): State<Http>, Path(file): Path<String>) -> Response {
    if !http.state.config.api_docs {
        return disabled();
    }
    serve_asset(ASSETS, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file the page names is one the server has, and nothing else is named.
    #[test]
    fn the_page_loads_only_embedded_assets() {
        let mut named = 0;
        for part in PAGE.split(['"', '\'']) {
            if let Some(file) = part.strip_prefix("assets/") {
                named += 1;
                assert!(
                    ASSETS.iter().any(|(n, ..)| *n == file),
                    "{file} is embedded"
                );
            }
            assert!(!part.contains("://"), "no absolute URL in the page: {part}");
        }
        assert_eq!(named, 4);
    }

    #[test]
    fn the_policy_is_a_header_value_without_unsafe_sources() {
        assert!(HeaderValue::from_str(CONTENT_SECURITY_POLICY).is_ok());
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    }
}
