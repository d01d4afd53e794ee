pub mod comments;
pub mod export;
pub mod filter;
pub mod policy;
pub mod queries;
pub mod service;
pub mod transitions;
