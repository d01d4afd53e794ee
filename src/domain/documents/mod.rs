//! Handover documents (FIELD.md "Handover documents"): the export as an XLSX sheet
//! ([`xlsx`]), the handover PDF ([`pdf`]) and documents made by jobs ([`jobs`]: CSV,
//! XLSX, PDF) with progress, a signed download link and a kept-then-removed file.
pub mod jobs;
pub mod pdf;
pub mod xlsx;

pub use jobs::{Setup, engine_parts};
