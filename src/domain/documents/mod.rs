//! Handover documents (FIELD.md "Handover documents"): the export as an XLSX sheet
//! ([`xlsx`]) and documents made by jobs ([`jobs`]: CSV, XLSX, PDF) with progress, a
//! signed download link and a kept-then-removed file. The PDF renderer lives in `pdf/`.
pub mod jobs;
pub mod xlsx;

pub use jobs::{Setup, engine_parts};
