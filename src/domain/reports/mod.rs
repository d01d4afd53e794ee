//! Reports: counts over the defects a viewer can see.
//!
//! Without `from`/`to`, every report reads the maintained aggregate ([`tally`]): O(groups)
//! rows in one statement, whatever the number of defects. With `from`/`to` it scans the
//! defects created in that range ([`queries::aggregate`], narrowed by the same filter and
//! visibility code as the defect list), which is also the reference the aggregate is
//! tested against. Plus at most one plain query for the projects or engineers reported on.
pub mod check;
pub mod export;
pub mod policy;
pub mod queries;
pub mod service;
pub mod tally;
