pub mod policy;
pub mod queries;
pub mod service;
