//! The viewer as an axum extractor, so no REST handler reads headers to authenticate.
use axum::{extract::FromRequestParts, http::request::Parts};

use super::Http;
use crate::{
    auth::{
        Viewer,
        viewer::{self, Auth},
    },
    error::AppError,
};

/// An authenticated, active user; UNAUTHENTICATED (401) otherwise.
pub struct RequireViewer(pub Viewer);

impl FromRequestParts<Http> for RequireViewer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, http: &Http) -> Result<Self, AppError> {
        let auth = viewer::resolve(&http.state.db, &http.state.keys, &parts.headers).await;
        auth.viewer().cloned().map(RequireViewer)
    }
}

/// What the `Authorization` header amounts to, for handlers that accept another proof
/// instead (a signed link) and so decide themselves when a missing viewer is an error.
pub struct MaybeViewer(pub Auth);

impl FromRequestParts<Http> for MaybeViewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, http: &Http) -> Result<Self, Self::Rejection> {
        Ok(MaybeViewer(
            viewer::resolve(&http.state.db, &http.state.keys, &parts.headers).await,
        ))
    }
}
