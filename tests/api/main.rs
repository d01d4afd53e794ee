#![allow(clippy::unwrap_used)]
//! Integration tests: through the router (HTTP semantics) on a fresh database each,
//! SQLite always and PostgreSQL too when TEST_DATABASE_URL is set.
mod builders;
mod helpers;

mod admission;
mod api_docs;
mod attachments;
mod auth;
mod clients;
mod clock;
mod defect_lists;
mod defects;
mod derive;
mod email;
mod engine;
mod errors;
mod export;
mod files;
mod first_run;
mod fixtures;
mod graphiql;
mod graphql_http;
mod input_bounds;
mod journal;
mod keys;
mod languages;
mod layers;
mod lean;
mod login_security;
mod memory;
mod notifications;
mod operations;
mod plans;
mod process;
mod projects;
mod reports;
mod schema;
mod seed;
mod server;
mod site_time;
mod soft_delete;
mod startup;
mod subscriptions;
mod transport;
mod users;
mod watchers;
