//! Reports: counts over the defects a viewer can see, computed by the database.
//!
//! Every report is one aggregate `SELECT` over `defects` (see [`queries::aggregate`]),
//! narrowed by the same filter and visibility code as the defect list, plus at most one
//! plain query for the projects or engineers it reports on. The statement count is fixed
//! whatever the number of defects.
pub mod export;
pub mod policy;
pub mod queries;
pub mod service;
