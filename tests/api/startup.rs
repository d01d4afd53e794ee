//! The binary's start on a fresh machine: each mistake of the setup stops it with a
//! message that names the setting and what to do.
use std::{path::Path, process::Stdio, time::Duration};

use tokio::process::Command;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/seed/demo.json");

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// The binary run to its end in `dir`, with only `env` (and PATH) set.
async fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(env!("CARGO_BIN_EXE_defect-control"))
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the binary ended within a minute")
    .expect("run the binary");
    Ran {
        code: out.status.code().expect("exited"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A SQLite URL in `dir` and the file it names.
fn sqlite(dir: &Path) -> (String, std::path::PathBuf) {
    let file = dir.join("dc.db");
    (format!("sqlite://{}?mode=rwc", file.display()), file)
}

#[tokio::test]
async fn a_busy_port_stops_the_start_naming_the_address_and_bind_addr() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let (url, file) = sqlite(dir.path());
    let ran = run(
        dir.path(),
        &["serve"],
        &[
            ("BIND_ADDR", &addr.to_string()),
            ("DATABASE_URL", &url),
            ("STORAGE_URL", "memory://"),
        ],
    )
    .await;
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let expected = format!("error: cannot listen on {addr} (BIND_ADDR): address already in use");
    assert!(ran.stderr.contains(&expected), "{}", ran.stderr);
    let next = format!("BIND_ADDR=127.0.0.1:{}", addr.port() + 1);
    assert!(ran.stderr.contains(&next), "{}", ran.stderr);
    // Found before the database is touched, not after the migrations.
    assert!(!file.exists());
}

#[tokio::test]
async fn a_bad_seed_lang_is_named_as_the_variable_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let (url, file) = sqlite(dir.path());
    let env = [("DATABASE_URL", url.as_str()), ("SEED_LANG", "de")];
    let ran = run(dir.path(), &["seed", DEMO], &env).await;
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains(r#"configuration error in SEED_LANG: expected en or ru, got "de""#),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("--lang"), "{}", ran.stderr);
    assert!(!file.exists(), "refused before anything was written");
    // The flag, typed by the user, is named as the flag (and wins over the variable).
    let ran = run(dir.path(), &["seed", DEMO, "--lang", "de"], &env).await;
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("--lang"), "{}", ran.stderr);
}

#[tokio::test]
async fn unknown_log_settings_stop_the_start_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = sqlite(dir.path());
    for (key, value, expected) in [
        (
            "LOG_FORMAT",
            "xml",
            r#"configuration error in LOG_FORMAT: expected text or json, got "xml""#,
        ),
        (
            "RUST_LOG",
            "info,sqlx=loud",
            "configuration error in RUST_LOG: ",
        ),
    ] {
        let ran = run(
            dir.path(),
            &["migrate"],
            &[("DATABASE_URL", &url), (key, value)],
        )
        .await;
        assert_eq!(ran.code, 1, "{key}: {}", ran.stderr);
        assert!(ran.stderr.contains(expected), "{}", ran.stderr);
        assert!(ran.stderr.contains(value), "{}", ran.stderr);
    }
}

#[tokio::test]
async fn dot_env_in_the_working_directory_is_read_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "# as docker compose reads it\nLOG_FORMAT=json\nDATABASE_URL=sqlite://from-dotenv.db?mode=rwc\n",
    )
    .unwrap();
    let ran = run(dir.path(), &["migrate"], &[("RUST_LOG", "info")]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        dir.path().join("from-dotenv.db").exists(),
        "DATABASE_URL of .env"
    );
    let line = ran
        .stdout
        .lines()
        .find(|l| l.contains("migrations applied"))
        .unwrap_or_else(|| panic!("{}", ran.stdout));
    let json: serde_json::Value = serde_json::from_str(line).expect("LOG_FORMAT=json of .env");
    assert_eq!(json["fields"]["message"], "migrations applied");

    let ran = run(
        dir.path(),
        &["migrate"],
        &[("RUST_LOG", "info"), ("LOG_FORMAT", "text")],
    )
    .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let line = ran
        .stdout
        .lines()
        .find(|l| l.contains("migrations applied"))
        .unwrap_or_else(|| panic!("{}", ran.stdout));
    assert!(
        serde_json::from_str::<serde_json::Value>(line).is_err(),
        "the environment's LOG_FORMAT=text wins: {line}"
    );

    // A line that is no setting stops the start naming the file and the line.
    std::fs::write(
        dir.path().join(".env"),
        "LOG_FORMAT=json\nthis is not a setting\n",
    )
    .unwrap();
    let ran = run(dir.path(), &["migrate"], &[]).await;
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let expected = format!("{}: line 2:", dir.path().join(".env").display());
    assert!(ran.stderr.contains(&expected), "{}", ran.stderr);
}

#[tokio::test]
async fn postgres_connection_failures_say_which_failure() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: refused, not "nothing answered".
    let ran = run(
        dir.path(),
        &["migrate"],
        &[("DATABASE_URL", "postgres://app:s3cret@127.0.0.1:1/dc")],
    )
    .await;
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains(
            "cannot use the database DATABASE_URL=postgres://app:***@127.0.0.1:1/dc: \
             connection refused at 127.0.0.1:1"
        ),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("s3cret"), "{}", ran.stderr);

    let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
        return;
    };
    if admin.is_empty() {
        return;
    }
    // The server answers, but the database is not there (SQLSTATE 3D000); a password is
    // put in the URL to see it hidden (the test server may not ask for one).
    let name = format!("dct_missing_{}", std::process::id());
    let (base, query) = admin.split_once('?').unwrap_or((&admin, ""));
    let base = &base[..base.rfind('/').unwrap()];
    let (scheme, rest) = base.split_once("://").unwrap();
    let rest = match rest.split_once('@') {
        Some((user, host)) => format!("{}:s3cret@{host}", user.split(':').next().unwrap()),
        None => rest.to_owned(),
    };
    let url = format!("{scheme}://{rest}/{name}?{query}");
    let ran = run(dir.path(), &["migrate"], &[("DATABASE_URL", &url)]).await;
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let expected = format!("the database \"{name}\" does not exist on ");
    assert!(ran.stderr.contains(&expected), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("DATABASE_URL=postgres"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("nothing answered"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("s3cret"), "{}", ran.stderr);
}
