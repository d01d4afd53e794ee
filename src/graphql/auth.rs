//! `login` and `refreshToken`.
use async_graphql::{Context, Object, SimpleObject};

use crate::{
    auth::{service, viewer::ClientAddr},
    error::GqlResultExt,
    graphql::{context::ContextExt, users::User},
};

#[derive(SimpleObject)]
pub struct AuthPayload {
    pub access: String,
    pub refresh: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until `access` expires.
    pub expires_in: i32,
    pub user: User,
}

impl From<service::TokenPair> for AuthPayload {
    fn from(p: service::TokenPair) -> Self {
        AuthPayload {
            access: p.access,
            refresh: p.refresh,
            token_type: "Bearer".into(),
            expires_in: i32::try_from(p.expires_in).unwrap_or(i32::MAX),
            // The caller has just proved to be this user, whoever the request's token names.
            user: User::own(p.user),
        }
    }
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    async fn login(
        &self,
        ctx: &Context<'_>,
        username: String,
        password: String,
    ) -> async_graphql::Result<AuthPayload> {
        let client = ctx
            .data_opt::<ClientAddr>()
            .map(|c| c.0.as_str())
            .unwrap_or("unknown");
        service::login(
            ctx.state().sessions(),
            ctx.state().login_guard(),
            &username,
            &password,
            client,
        )
        .await
        .gql()
        .map(AuthPayload::from)
    }

    /// Rotates the refresh token: the one given is refused from now on.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        refresh: String,
    ) -> async_graphql::Result<AuthPayload> {
        service::refresh(ctx.state().sessions(), &refresh)
            .await
            .gql()
            .map(AuthPayload::from)
    }
}
