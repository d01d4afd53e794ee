//! Who is calling: passwords, tokens, the login throttle and the `Viewer`.
pub mod password;
pub mod service;
pub mod throttle;
pub mod tokens;
pub mod viewer;

pub use viewer::Viewer;

#[cfg(test)]
mod tests {
    /// `state` is built from `auth` (keys, throttle, hash pool); `auth` taking it back
    /// would make the two one knot again, and every auth function would see the whole
    /// application. Functions here take what they use (`Sessions`, `LoginGuard`, …).
    #[test]
    fn auth_does_not_import_the_application_state() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/auth");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).expect("src/auth") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("source");
            // Spelled in pieces so that this file does not match itself.
            for needle in [concat!("crate::", "state"), concat!("App", "State")] {
                assert!(
                    !text.contains(needle),
                    "{} mentions {needle}",
                    path.display()
                );
            }
            checked += 1;
        }
        assert!(checked >= 6, "only {checked} files under src/auth");
    }
}
