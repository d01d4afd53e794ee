//! The log settings, read before anything else so a mistake in them stops the start
//! instead of silently logging in another format or at another level.
use tracing_subscriber::EnvFilter;

use super::{
    ConfigError,
    values::{err, trimmed},
};

/// The filter when `RUST_LOG` is unset: our `info`, the database drivers' warnings.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn";

pub struct Logging {
    /// `LOG_FORMAT=json`: one JSON object a line; otherwise text.
    pub json: bool,
    pub filter: EnvFilter,
}

impl Logging {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let val = trimmed(get);
        let json = match val("LOG_FORMAT") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("text") => false,
            Some(v) if v.eq_ignore_ascii_case("json") => true,
            Some(v) => {
                return Err(err(
                    "LOG_FORMAT",
                    format!("expected text or json, got {v:?}"),
                ));
            }
        };
        let filter = match val("RUST_LOG") {
            None => EnvFilter::new(DEFAULT_FILTER),
            Some(v) => EnvFilter::try_new(&v).map_err(|e| {
                err(
                    "RUST_LOG",
                    format!("{e} in {v:?} (e.g. info, or info,defect_control=debug)"),
                )
            })?,
        };
        Ok(Logging { json, filter })
    }
}

#[cfg(test)]
mod tests {
    use super::Logging;

    fn read(pairs: &[(&str, &str)]) -> Result<Logging, super::ConfigError> {
        Logging::from_lookup(|k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn unknown_formats_and_malformed_filters_are_refused_naming_the_setting() {
        assert!(!read(&[]).unwrap().json);
        assert!(read(&[("LOG_FORMAT", "JSON")]).unwrap().json);
        assert!(!read(&[("LOG_FORMAT", "text")]).unwrap().json);
        let e = read(&[("LOG_FORMAT", "xml")]).err().unwrap();
        assert_eq!(e.key, "LOG_FORMAT");
        assert!(e.message.contains("\"xml\""), "{}", e.message);
        read(&[("RUST_LOG", "info,defect_control=debug,sqlx=warn")]).unwrap();
        let e = read(&[("RUST_LOG", "info,sqlx=loud")]).err().unwrap();
        assert_eq!(e.key, "RUST_LOG");
        assert!(e.message.contains("sqlx=loud"), "{}", e.message);
    }
}
