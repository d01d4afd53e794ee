pub mod attachments;
pub mod comments;
pub mod files;
pub mod filter;
pub mod policy;
pub mod queries;
pub mod service;
pub mod transitions;
