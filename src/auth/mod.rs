//! Who is calling: passwords, tokens, the login throttle and the `Viewer`.
pub mod api_tokens;
pub mod password;
pub mod service;
pub mod throttle;
pub mod tokens;
pub mod viewer;

pub use viewer::Viewer;
