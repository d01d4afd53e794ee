//! The viewer as an axum extractor, so no REST handler reads headers to authenticate.
use axum::{extract::FromRequestParts, http::request::Parts};

use super::Http;
use crate::{
    auth::{
        Viewer,
        viewer::{self, Auth},
    },
    error::AppError,
    i18n::Msg,
};

/// An authenticated, active user; UNAUTHENTICATED (401) otherwise.
pub struct RequireViewer(pub Viewer);

impl FromRequestParts<Http> for RequireViewer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, http: &Http) -> Result<Self, AppError> {
        let auth = resolve(parts, http).await;
        auth.viewer().cloned().map(RequireViewer)
    }
}

/// The request's `Authorization`, with a `READ` API token refused (FORBIDDEN) on any
/// method that may write (anything but GET, HEAD, OPTIONS, TRACE): READ tokens run
/// queries and downloads only, whatever route a write is added on later.
async fn resolve(parts: &Parts, http: &Http) -> Auth {
    let auth = viewer::resolve(&http.state.db, &http.state.keys, &parts.headers).await;
    match &auth {
        Auth::Authenticated(v) if v.read_only() && !parts.method.is_safe() => {
            Auth::Invalid(AppError::Forbidden(Msg::ReadOnlyToken))
        }
        _ => auth,
    }
}

/// What the `Authorization` header amounts to, for handlers that accept another proof
/// instead (a signed link) and so decide themselves when a missing viewer is an error.
pub struct MaybeViewer(pub Auth);

impl FromRequestParts<Http> for MaybeViewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, http: &Http) -> Result<Self, Self::Rejection> {
        Ok(MaybeViewer(resolve(parts, http).await))
    }
}
