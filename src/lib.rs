//! defect-control: registering and controlling defects on construction sites.
pub mod auth;
pub mod caps;
pub mod commit;
pub mod config;
pub mod db;
pub mod domain;
pub mod engine;
pub mod entities;
pub mod error;
pub mod graphql;
pub mod http;
pub mod i18n;
pub mod inbox_live;
pub mod live;
pub mod mail;
pub mod seed;
pub mod server;
pub mod state;
pub mod storage;
pub mod time;

pub use http::app;
