//! The GraphQL transport: objects, thin resolvers, loaders and the error safety net.
pub mod auth;
pub mod coerce;
pub mod commit;
pub mod context;
pub mod defects;
pub mod documents;
pub mod errors;
pub mod limits;
pub mod loaders;
pub mod notifications;
pub mod pagination;
pub mod plans;
pub mod projects;
pub mod reports;
pub mod scalars;
pub mod site_time;
pub mod tokens;
pub mod uploads;
pub mod upstream;
pub mod users;
pub mod webhooks;
pub mod words;

use async_graphql::{MergedObject, MergedSubscription, Schema};

use crate::state::AppState;

#[derive(MergedObject, Default)]
pub struct Query(
    users::UserQuery,
    projects::ProjectQuery,
    defects::DefectQuery,
    defects::ActivityQuery,
    reports::ReportQuery,
    notifications::NotificationQuery,
    tokens::TokenQuery,
    webhooks::WebhookQuery,
    documents::DocumentQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    auth::AuthMutation,
    users::UserMutation,
    projects::ProjectMutation,
    defects::DefectMutation,
    defects::BulkMutation,
    defects::ImportMutation,
    plans::PlanMutation,
    notifications::NotificationMutation,
    tokens::TokenMutation,
    webhooks::WebhookMutation,
    documents::DocumentMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(
    defects::DefectSubscription,
    notifications::NotificationSubscription,
    documents::DocumentSubscription,
);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Depth 20 is refused before any resolver runs; realistic screens stay under 12.
pub const MAX_DEPTH: usize = 12;
/// Every field costs 1 and a list costs its page size times its children, so 1,000
/// aliased heavy fields or a nested list of lists are refused up front.
pub const MAX_COMPLEXITY: usize = 20_000;
/// A subscription's selection is resolved again for every event it receives, for as long
/// as it runs, so it gets a budget of its own, far below a query's: a defect with its
/// project, members, stages, comments with their authors, attachments and history costs
/// ~90; a page of `activity` or a hundred aliased defects below each event does not fit.
pub const MAX_SUBSCRIPTION_COMPLEXITY: usize = 200;
/// async-graphql's structural recursion limit (selection sets and fragment spreads).
pub const MAX_RECURSIVE_DEPTH: usize = 64;

pub fn build_schema(state: Option<AppState>) -> AppSchema {
    build(state, Some(errors::SafetyNet::default()))
}

/// The schemas the HTTP transport runs documents on.
#[derive(Clone)]
pub struct Schemas {
    /// Every operation, with the safety net and the commit mark as extensions (what
    /// WebSockets, mutations and any other way into the executor use).
    pub full: AppSchema,
    /// The same schema without extensions, for queries whose document and input the
    /// transport has already checked ([`errors::execute_checked_query`]). An extension
    /// makes async-graphql wrap every field and list item in its hooks (a registry
    /// lookup, a type-name string and a boxed future per value; ~800 values on a 50-row
    /// list).
    pub lean: AppSchema,
    /// The registry, as the full schema's safety net saw it.
    pub tap: errors::RegistryTap,
}

pub fn build_schemas(state: AppState) -> Schemas {
    let tap = errors::RegistryTap::default();
    Schemas {
        full: build(
            Some(state.clone()),
            Some(errors::SafetyNet::tapping(tap.clone())),
        ),
        lean: build(Some(state), None),
        tap,
    }
}

fn build(state: Option<AppState>, net: Option<errors::SafetyNet>) -> AppSchema {
    let introspection = state.as_ref().is_none_or(|s| s.config.introspection);
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .override_output_type_description::<chrono::DateTime<chrono::Utc>>(scalars::DATE_TIME)
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .limit_recursive_depth(MAX_RECURSIVE_DEPTH);
    if let Some(net) = net {
        builder = builder
            .extension(net)
            .extension(commit::MutationsRunToCompletion);
    }
    if !introspection {
        builder = builder.disable_introspection();
    }
    if let Some(state) = state {
        builder = builder.data(state);
    }
    builder.finish()
}

/// The schema for introspection-only documents: no depth or complexity limit (the
/// standard introspection query nests `ofType` 8 levels inside `__schema.types.fields`),
/// its work bounded by the document limits instead; it answers nothing but introspection.
pub fn build_introspection_schema(state: &AppState) -> Option<AppSchema> {
    if !state.config.introspection {
        return None;
    }
    Some(
        Schema::build(
            Query::default(),
            Mutation::default(),
            Subscription::default(),
        )
        .introspection_only()
        .override_output_type_description::<chrono::DateTime<chrono::Utc>>(scalars::DATE_TIME)
        .limit_recursive_depth(MAX_RECURSIVE_DEPTH)
        .extension(errors::SafetyNet::default())
        .data(state.clone())
        .finish(),
    )
}

/// The SDL committed as `schema.graphql`, with the scalars' `@specifiedBy` URLs.
pub fn sdl() -> String {
    build_schema(None)
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}
