//! What resolvers take from the context: the viewer and the application state.
use crate::i18n::Msg;
use async_graphql::{Context, ErrorExtensions};

use crate::{
    auth::{Viewer, viewer::Auth},
    error::AppError,
    state::AppState,
};

/// Where links in responses point: `PUBLIC_URL`, else `http://<Host>` of the request
/// (so `url` works in an `<img src>` of a frontend served from another origin), else
/// nothing (relative links). Put in the request's data by the HTTP transport.
#[derive(Clone, Debug, Default)]
pub struct PublicOrigin(pub String);

pub trait ContextExt {
    fn state(&self) -> &AppState;
    /// The authenticated viewer, or UNAUTHENTICATED.
    fn viewer(&self) -> async_graphql::Result<&Viewer>;
}

impl ContextExt for Context<'_> {
    fn state(&self) -> &AppState {
        self.data_unchecked::<AppState>()
    }

    fn viewer(&self) -> async_graphql::Result<&Viewer> {
        match self.data_opt::<Auth>() {
            Some(auth) => auth.viewer().map_err(|e| e.extend()),
            None => Err(AppError::Unauthenticated(Msg::AuthRequired).extend()),
        }
    }
}
