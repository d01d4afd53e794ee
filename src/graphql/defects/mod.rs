//! Defect, Comment, Attachment and StatusChange: objects, inputs, the defect queries
//! and mutations, one file each (split from one 559-line file; see docs/ARCHITECTURE.md).
mod bulk;
mod events;
mod import;
mod inputs;
mod live;
mod mutation;
mod objects;
mod query;

pub use bulk::BulkMutation;
pub use events::{ActivityQuery, DefectEvent, DefectEventConnection};
pub use import::ImportMutation;
pub use inputs::{CreateDefectInput, DefectFilterInput, UpdateDefectInput};
pub use live::DefectSubscription;
pub(crate) use live::{subscriber, too_many};
pub use mutation::DefectMutation;
pub use objects::{Attachment, Comment, Defect, DefectConnection, DefectEdge, StatusChange};
pub use query::DefectQuery;
