//! SeaORM entities: table shapes only, no rules.
pub mod attachments;
pub mod comments;
pub mod defect_events;
pub mod defect_numbers;
pub mod defects;
pub mod enums;
pub mod login_attempts;
pub mod plans;
pub mod project_members;
pub mod projects;
pub mod refresh_tokens;
pub mod report_counts;
pub mod report_deadlines;
pub mod stages;
pub mod status_changes;
pub mod users;
