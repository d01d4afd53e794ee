//! The HTTP transport: routes, the REST shim and the GraphQL endpoint.
pub mod attachments;
pub mod auth;
pub mod export;
pub mod graphql;
pub mod health;
pub mod openapi;

use std::net::SocketAddr;

use std::time::Duration;

use axum::{
    Router,
    extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Request, State},
    http::{HeaderName, HeaderValue, Method, StatusCode, request::Parts},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use tower_http::{
    cors::{AllowOrigin, Any, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

use crate::{
    auth::viewer::ClientAddr,
    error::AppError,
    graphql::{AppSchema, build_schema},
    state::AppState,
};

/// Router state: the application plus the schema built over it.
#[derive(Clone)]
pub struct Http {
    pub state: AppState,
    pub schema: AppSchema,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn app(state: AppState) -> Router {
    let schema = build_schema(Some(state.clone()));
    let cors = cors(&state.config.cors_origins);
    let request_timeout = state.config.request_timeout;
    let http = Http { state, schema };
    let mut router = Router::new()
        .route("/graphql", post(graphql::post).get(graphql::get))
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
        .route("/api/openapi.json", get(openapi::serve))
        .route("/api/reports/export/", get(export::export))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .fallback(not_found)
        .with_state(http)
        .layer(middleware::from_fn_with_state(request_timeout, timeout))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid));
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

/// A request that has not produced its response in time answers 503 with a code (the
/// body of a streaming response, such as an export, is not cut).
async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    let graphql = req.uri().path() == "/graphql";
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let err = AppError::Unavailable(format!(
                "the request took longer than {} s",
                limit.as_secs()
            ));
            tracing::warn!("request timed out");
            if graphql {
                graphql::error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    err.code(),
                    &err.to_string(),
                )
            } else {
                err.into_response()
            }
        }
    }
}

async fn not_found() -> AppError {
    AppError::NotFound("no such endpoint".into())
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
            ),
            None => ClientAddr("unknown".into()),
        })
    }
}
