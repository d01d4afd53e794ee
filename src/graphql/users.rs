//! User objects, queries and mutations.
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use chrono::{DateTime, Utc};

use crate::{
    domain::{
        pagination::PageArgs,
        users::{policy, service as users},
    },
    entities::{enums::Role, users as user_rows},
    error::GqlResultExt,
    graphql::{
        context::ContextExt,
        pagination::wants_total,
        scalars::{id, patch},
    },
};

/// A person who signs in.
#[derive(Clone)]
pub struct User {
    pub row: user_rows::Model,
    /// Set where the caller has just proved to be this user (the login payload), when
    /// the request's viewer is not yet them.
    pub is_self: bool,
}

impl User {
    pub fn own(row: user_rows::Model) -> Self {
        User { row, is_self: true }
    }
}

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    async fn username(&self) -> &str {
        &self.row.username
    }
    /// Admins, managers and the user themself; `null` for anyone else.
    async fn email(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        if self.is_self {
            return Ok(Some(&self.row.email));
        }
        let viewer = ctx.viewer()?;
        Ok(policy::can_read_email(viewer.role, viewer.id, self.row.id).then_some(&*self.row.email))
    }
    async fn full_name(&self) -> &str {
        &self.row.full_name
    }
    async fn role(&self) -> Role {
        self.row.role
    }
    async fn is_active(&self) -> bool {
        self.row.is_active
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
}

crate::connection!(UserConnection, UserEdge, User);

impl From<user_rows::Model> for User {
    fn from(row: user_rows::Model) -> Self {
        User {
            row,
            is_self: false,
        }
    }
}

#[derive(InputObject)]
pub struct CreateUserInput {
    pub username: String,
    pub email: String,
    pub full_name: Option<String>,
    pub password: String,
    pub role: Role,
}

/// An omitted field is left as it is.
#[derive(InputObject)]
pub struct UpdateUserInput {
    pub email: MaybeUndefined<String>,
    pub full_name: MaybeUndefined<String>,
    pub password: MaybeUndefined<String>,
    pub is_active: MaybeUndefined<bool>,
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let viewer = ctx.viewer()?;
        users::me(&ctx.state().db, viewer)
            .await
            .gql()
            .map(User::from)
    }

    /// Users, ordered by username. Managers and admins only.
    #[graphql(complexity = "crate::graphql::pagination::cost(first) * child_complexity")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        role: Option<Role>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<UserConnection> {
        let viewer = ctx.viewer()?;
        let db = &ctx.state().db;
        let args = PageArgs::new(first, after.as_deref()).gql()?;
        let filter = users::UserFilter { role, search };
        let page = users::list(db, viewer, &filter, &args).await.gql()?;
        let total = if wants_total(ctx) {
            users::count(db, viewer, &filter).await.gql()?
        } else {
            0
        };
        Ok(UserConnection::new(page.map(User::from), total))
    }

    /// One user. Managers and admins; anyone may read their own account.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<User>> {
        let viewer = ctx.viewer()?;
        let id = self::id(crate::error::Msg::UserNotFound, &id)?;
        users::get(&ctx.state().db, viewer, id)
            .await
            .gql()
            .map(|u| Some(u.into()))
    }
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Admins only.
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> async_graphql::Result<User> {
        let viewer = ctx.viewer()?;
        let input = users::NewUser {
            username: input.username,
            email: input.email,
            full_name: input.full_name,
            password: input.password,
            role: input.role,
        };
        let state = ctx.state();
        users::create(&state.db, &state.hasher, viewer, input)
            .await
            .gql()
            .map(User::from)
    }

    /// Admins only. `isActive: false` deactivates the account and ends its sessions.
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateUserInput,
    ) -> async_graphql::Result<User> {
        let viewer = ctx.viewer()?;
        let id = self::id(crate::error::Msg::UserNotFound, &id)?;
        let patch = users::UserPatch {
            email: patch(input.email, |v| v),
            full_name: patch(input.full_name, |v| v),
            password: patch(input.password, |v| v),
            is_active: patch(input.is_active, |v| v),
        };
        let state = ctx.state();
        users::update(&state.db, &state.hasher, viewer, id, patch)
            .await
            .gql()
            .map(User::from)
    }

    /// Admins only.
    async fn set_user_role(
        &self,
        ctx: &Context<'_>,
        id: ID,
        role: Role,
    ) -> async_graphql::Result<User> {
        let viewer = ctx.viewer()?;
        let id = self::id(crate::error::Msg::UserNotFound, &id)?;
        users::set_role(&ctx.state().db, viewer, id, role)
            .await
            .gql()
            .map(User::from)
    }
}
