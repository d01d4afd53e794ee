pub mod policy;
pub mod queries;
pub mod service;
pub mod settings;
pub mod site_time;
pub mod stages;
