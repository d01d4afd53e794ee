//! API tokens over GraphQL (NOTIFY.md, "API tokens"): `ApiToken`, `myApiTokens`,
//! `createApiToken`, `revokeApiToken`. The READ scope's refusal of mutations is in
//! `commit.rs`, where every top-level mutation field starts.
use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    domain::tokens::service::{self, NewToken},
    entities::{api_tokens, enums::ApiTokenScope},
    error::GqlResultExt,
    graphql::context::ContextExt,
    i18n::Msg,
};

/// One of the viewer's API tokens (never its secret).
pub struct ApiToken(pub api_tokens::Model);

#[Object]
impl ApiToken {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn scope(&self) -> ApiTokenScope {
        self.0.scope
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When a request last used it (recorded at most once a minute).
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
}

#[derive(SimpleObject)]
pub struct ApiTokenWithSecret {
    pub token: ApiToken,
    /// dct_...; shown only here. Send as Authorization: Bearer <secret>.
    pub secret: String,
}

#[derive(Default)]
pub struct TokenQuery;

#[Object]
impl TokenQuery {
    /// The viewer's live API tokens (not revoked, not expired), newest first.
    async fn my_api_tokens(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiToken>> {
        let viewer = ctx.viewer()?;
        let rows = service::mine(&ctx.state().db, viewer).await.gql()?;
        Ok(rows.into_iter().map(ApiToken).collect())
    }
}

#[derive(Default)]
pub struct TokenMutation;

#[Object]
impl TokenMutation {
    /// A token for scripts; its secret is in this response only. Not by a token (FORBIDDEN).
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        name: String,
        scope: ApiTokenScope,
        expires_at: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<ApiTokenWithSecret> {
        let viewer = ctx.viewer()?;
        let input = NewToken {
            name,
            scope,
            expires_at,
        };
        let (row, secret) = service::create(&ctx.state().db, viewer, input)
            .await
            .gql()?;
        Ok(ApiTokenWithSecret {
            token: ApiToken(row),
            secret,
        })
    }

    /// Revokes one of the viewer's tokens: the next request with it is UNAUTHENTICATED.
    async fn revoke_api_token(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let viewer = ctx.viewer()?;
        let token = crate::graphql::scalars::id(Msg::ApiTokenNotFound, &id)?;
        let done = service::revoke(&ctx.state().db, viewer, token)
            .await
            .gql()?;
        Ok(ID(done.to_string()))
    }
}
