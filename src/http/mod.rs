//! The HTTP transport: routes, the REST shim and the GraphQL endpoint.
pub mod access;
pub mod api_docs;
pub mod attachments;
pub mod auth;
pub mod deadline;
pub mod documents;
pub mod export;
pub mod graphiql;
pub mod graphql;
pub mod handover;
pub mod health;
pub mod openapi;
pub mod plans;
pub mod viewer;
pub mod ws;

use crate::i18n::Msg;
use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use axum::{
    Router,
    extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts},
    http::{HeaderValue, Method, request::Parts},
    middleware,
    routing::{get, post},
};
use tower_http::{
    cors::{AllowOrigin, Any, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

use access::REQUEST_ID;

use crate::{
    auth::viewer::ClientAddr,
    error::AppError,
    graphql::{AppSchema, Schemas, build_introspection_schema, build_schemas},
    state::AppState,
};

/// Router state: the application plus the schema built over it.
#[derive(Clone)]
pub struct Http {
    pub state: AppState,
    pub schemas: Schemas,
    /// Answers introspection-only documents (`None` when `INTROSPECTION=false`).
    pub introspection: Option<AppSchema>,
    /// How many WebSockets may be open (`ws::caps`).
    pub sockets: Arc<ws::caps::SocketCaps>,
}

/// JSON bodies of the REST shim (login, refresh) are a few hundred bytes; more is 413.
/// `/graphql` reads its body itself, under its own limits.
const REST_BODY_LIMIT: usize = 64 * 1024;

pub fn app(state: AppState) -> Router {
    let schemas = build_schemas(state.clone());
    let cors = cors(&state.config.cors_origins);
    let request_timeout = state.config.request_timeout;
    let introspection = build_introspection_schema(&state);
    let sockets = Arc::new(ws::caps::SocketCaps::new(&state.config));
    let http = Http {
        state,
        schemas,
        introspection,
        sockets,
    };
    let mut router = Router::new()
        .route("/graphql", post(graphql::post).get(graphql::get))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/graphql/assets/{file}", get(graphiql::asset))
        .route("/", get(graphiql::root))
        .route(
            "/api/auth/login/",
            post(auth::login).layer(DefaultBodyLimit::max(auth::BODY_LIMIT)),
        )
        .route(
            "/api/auth/refresh/",
            post(auth::refresh).layer(DefaultBodyLimit::max(auth::BODY_LIMIT)),
        )
        .route("/api/attachments/{id}/file", get(attachments::file))
        .route("/api/attachments/{id}/thumbnail", get(attachments::thumbnail))
        .route("/api/plans/{id}/file", get(plans::file))
        .route("/api/openapi.json", get(openapi::serve))
        .route("/api/docs", get(api_docs::redirect))
        .route("/api/docs/", get(api_docs::page))
        .route("/api/docs/assets/{file}", get(api_docs::asset))
        .route("/api/reports/export/", get(export::export))
        .route("/api/reports/handover.pdf", get(handover::handover))
        .route("/api/documents/{id}/file", get(documents::file))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .fallback(not_found)
        .with_state(http)
        .layer(DefaultBodyLimit::max(REST_BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            request_timeout,
            deadline::timeout,
        ))
        .layer(middleware::from_fn(access::json_errors))
        .layer(
            // The access log: one `info` line per request when its response is ready,
            // inside a span carrying method, path and the (screened) request id.
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                .on_response(
                    |res: &axum::http::Response<_>,
                     latency: Duration,
                     _: &tracing::Span| {
                        tracing::info!(
                            status = res.status().as_u16(),
                            duration_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
                            "request"
                        );
                    },
                )
                // 5xx are already in the access line; causes are logged where they happen.
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(middleware::from_fn(access::screen_request_id));
    if let Some(cors) = cors {
        router = router.layer(cors);
    }
    router
}

/// No CORS layer (same origin only) unless `CORS_ORIGINS` lists origins.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
        ]);
    Some(if origins.iter().any(|o| o == "*") {
        layer.allow_origin(Any)
    } else {
        let list: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
        layer.allow_origin(AllowOrigin::list(list))
    })
}

async fn not_found() -> AppError {
    AppError::NotFound(Msg::NoSuchEndpoint)
}

/// The client's address: the peer, or what a `TRUSTED_PROXIES` peer says it forwarded.
impl FromRequestParts<Http> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, http: &Http) -> Result<Self, Self::Rejection> {
        Ok(match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => ClientAddr::resolve(
                peer.ip(),
                &parts.headers,
                &http.state.config.trusted_proxies,
                http.state.config.trusted_proxy_header,
            ),
            None => ClientAddr("unknown".into()),
        })
    }
}
