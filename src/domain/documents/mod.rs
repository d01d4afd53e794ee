//! Documents handed over from a filter of defects.
pub mod pdf;
