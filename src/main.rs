use std::{
    io::{BufRead, IsTerminal},
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
};

use clap::{Parser, Subcommand};
use defect_control::{
    config::{Config, ConfigError, logging::Logging},
    db, graphql,
    i18n::Lang,
    seed, server,
    state::AppState,
};
use tracing_subscriber::fmt;

#[derive(Parser)]
#[command(
    name = "defect-control",
    version,
    about = "Defect tracking for construction sites: a GraphQL server",
    after_help = "Configuration comes from the environment and from a .env file in the working \
directory (read once at start; the environment wins; a bad value stops the start naming the \
variable). The main variables:
  DATABASE_URL   sqlite://data/defect-control.db?mode=rwc (default) or postgres://USER:PASSWORD@HOST/DB
  BIND_ADDR      listen address (default 127.0.0.1:8000)
  JWT_SECRET     token signing key, 32+ characters (required with APP_ENV=production)
  STORAGE_URL    attachments: a directory (default ./data/media), memory:// or s3://bucket/prefix
  PUBLIC_URL     public origin for attachment links
  GRAPHIQL, INTROSPECTION   false to turn the playground and schema introspection off
  API_DOCS       false to turn off the REST shim's Swagger UI (/api/docs/)
  RUST_LOG, LOG_FORMAT      log filter; text (default) or json for structured logs
  SEED_LANG      language of the demo data when --lang is not given: en (default) or ru
docs/operations.md (Configuration) lists every variable."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations and serve HTTP (the default).
    Serve {
        /// Load this seed file (idempotently) before serving.
        #[arg(long)]
        seed: Option<PathBuf>,
        #[command(flatten)]
        lang: SeedLang,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Create an ADMIN account (for the first login of a new installation).
    CreateAdmin {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Load a seed file through the services (idempotent).
    Seed {
        file: PathBuf,
        #[command(flatten)]
        lang: SeedLang,
    },
    /// Compare the reports' aggregate with a recomputation from the defects and print
    /// every difference; exit 1 if there is any (after a repair: if any is left).
    ReportsCheck {
        /// When it differs, rebuild the aggregate from the defects (one transaction; on
        /// PostgreSQL writers wait meanwhile) and check again.
        #[arg(long)]
        repair: bool,
    },
    /// Print the GraphQL schema (SDL).
    PrintSchema,
    /// Print the OpenAPI document of the REST shim.
    PrintOpenapi,
    /// Exit 0 when the server on BIND_ADDR answers /health (the container's probe).
    Healthcheck,
}

#[derive(clap::Args)]
struct SeedLang {
    /// Language of the seed's labels (project, stage and defect titles, descriptions,
    /// comments, full names) [default: SEED_LANG, else en].
    #[arg(long = "lang", value_parser = ["en", "ru"])]
    lang: Option<String>,
}

impl SeedLang {
    /// `--lang`, else `SEED_LANG`, else English. The variable is read here rather than
    /// through clap's `env`, whose refusal of a bad `SEED_LANG` names `--lang`, a flag
    /// the user never typed.
    fn resolve(&self) -> Result<Lang, ConfigError> {
        let value = match (&self.lang, std::env::var("SEED_LANG")) {
            // clap has accepted only en or ru for the flag.
            (Some(flag), _) => flag.clone(),
            (None, Ok(v)) if !v.trim().is_empty() => v.trim().to_owned(),
            _ => return Ok(Lang::En),
        };
        match value.as_str() {
            "en" => Ok(Lang::En),
            "ru" => Ok(Lang::Ru),
            other => Err(ConfigError {
                key: "SEED_LANG",
                message: format!("expected en or ru, got {other:?}"),
            }),
        }
    }
}

fn init_tracing(logging: Logging) {
    if logging.json {
        fmt().json().with_env_filter(logging.filter).init();
    } else {
        // Colours only on a terminal: piped into a file or a log collector, escape codes
        // would garble every line.
        fmt()
            .with_ansi(std::io::stdout().is_terminal())
            .with_env_filter(logging.filter)
            .init();
    }
}

/// Reads `.env` of the working directory into the environment, as docker compose does;
/// a variable the process environment already has keeps its value. Only the working
/// directory's file: dotenvy's `dotenv()` also searches parent directories, which could
/// apply a file nobody meant for this program.
fn load_dotenv() -> Result<(), String> {
    let path = std::env::current_dir()
        .map(|dir| dir.join(".env"))
        .unwrap_or_else(|_| PathBuf::from(".env"));
    match dotenvy::from_path(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(dotenvy::Error::LineParse(text, at)) => {
            let first = text.lines().next().unwrap_or_default().trim();
            let number = std::fs::read_to_string(&path)
                .ok()
                .and_then(|all| all.lines().position(|l| l.trim() == first))
                .map_or_else(String::new, |n| format!(" line {}:", n + 1));
            Err(format!(
                "{}:{number} cannot read {first:?} (at character {at}); expected NAME=value",
                path.display()
            ))
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The listening socket, or what to do when it cannot be had.
async fn listen(bind: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(bind).await.map_err(|e| {
        let next = SocketAddr::new(bind.ip(), bind.port().checked_add(1).unwrap_or(8001));
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                "address already in use — another server is running on port {} (a second \
                 defect-control? Django's development server uses 8000 too); stop it or set \
                 BIND_ADDR={next}",
                bind.port()
            ),
            std::io::ErrorKind::PermissionDenied => format!(
                "permission denied ({e}): ports below 1024 need privileges; set e.g. \
                 BIND_ADDR={}",
                SocketAddr::new(bind.ip(), 8000)
            ),
            std::io::ErrorKind::AddrNotAvailable => format!(
                "this machine has no such address ({e}); set BIND_ADDR=127.0.0.1:{} (this \
                 machine only) or 0.0.0.0:{} (every interface)",
                bind.port(),
                bind.port()
            ),
            _ => e.to_string(),
        };
        format!("cannot listen on {bind} (BIND_ADDR): {hint}")
    })
}

/// mimalloc rather than glibc's malloc: each argon2 hash allocates ~19 MiB, and glibc
/// keeps such blocks in per-thread arenas of the blocking pool after a login burst
/// (measured on the release binary, 3 × 200 concurrent logins: idle 20 MiB, still
/// 569 MiB a minute later with glibc; mimalloc gives the memory back — numbers in
/// `tests/api/memory.rs`). Built without transparent huge pages (`no_thp`, Cargo.toml):
/// with them, half of the anonymous memory left after a load run was 2 MiB pages
/// (docs/BENCHMARKS.md, "Memory after load").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Not `#[tokio::main]`: `.env` is read into the environment first, while this is the only
/// thread (setting variables while other threads may read them is undefined behaviour).
fn main() -> ExitCode {
    if let Err(e) = load_dotenv() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(start())
}

async fn start() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::PrintSchema) = cli.command {
        print!("{}", graphql::sdl());
        return ExitCode::SUCCESS;
    }
    if let Some(Command::PrintOpenapi) = cli.command {
        print!("{}", defect_control::http::openapi::json());
        return ExitCode::SUCCESS;
    }
    if let Some(Command::Healthcheck) = cli.command {
        let bind = match Config::from_env() {
            Ok(c) => c.bind_addr,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        return match server::healthcheck(bind).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("unhealthy: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match Logging::from_env() {
        Ok(logging) => init_tracing(logging),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Some(Command::ReportsCheck { repair }) = cli.command {
        return match reports_check(repair).await {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run(cli.command.unwrap_or(Command::Serve {
        seed: None,
        lang: SeedLang { lang: None },
    }))
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error>;

/// The configured database, migrated; statements bounded by `statement_timeout` (the
/// server's), or not (`None`: an operator's scan of every defect may take longer).
async fn open_database(
    config: &Config,
    statement_timeout: Option<std::time::Duration>,
) -> Result<sea_orm::DatabaseConnection, BoxError> {
    let conn = match db::connect(&config.database_url, statement_timeout).await {
        Ok(conn) => conn,
        Err(e) => return Err(db::explain(&config.database_url, &e).await.into()),
    };
    db::migrate(&conn).await?;
    Ok(conn)
}

/// `reports-check [--repair]`: prints every difference (and what a repair left); `true`
/// when reports read exact numbers at the end.
async fn reports_check(repair: bool) -> Result<bool, BoxError> {
    use defect_control::domain::reports::check;
    let config = Config::from_env()?;
    let conn = open_database(&config, None).await?;
    let checked = check::run(&conn, defect_control::time::now(), repair).await?;
    conn.close().await?;
    for d in &checked.drift {
        println!(
            "{}: maintained {}, recomputed {}",
            d.what, d.maintained, d.fresh
        );
    }
    println!(
        "report aggregate: {} difference(s) from a recomputation",
        checked.drift.len()
    );
    match &checked.left {
        Some(left) => {
            for d in left {
                println!(
                    "still: {}: maintained {}, recomputed {}",
                    d.what, d.maintained, d.fresh
                );
            }
            println!("rebuilt: {} difference(s) left", left.len());
        }
        None if !checked.drift.is_empty() => {
            println!("run `defect-control reports-check --repair` to rebuild it");
        }
        None => {}
    }
    Ok(checked.exact())
}

async fn run(command: Command) -> Result<(), BoxError> {
    let config = Config::from_env()?;
    let lang = match &command {
        Command::Serve { lang, .. } | Command::Seed { lang, .. } => lang.resolve()?,
        _ => Lang::En,
    };
    // The port before the database: a busy port is found in a moment, not after the
    // migrations and the seed. Connections that arrive meanwhile wait in the backlog.
    let listener = match &command {
        Command::Serve { .. } => Some(listen(config.bind_addr).await?),
        _ => None,
    };
    let conn = open_database(&config, Some(config.statement_timeout())).await?;
    match command {
        Command::Migrate => {
            tracing::info!("migrations applied");
        }
        Command::Seed { file, .. } => {
            let report = seed::load_file(&conn, &file, lang).await?;
            tracing::info!(?report, "seed loaded");
        }
        Command::CreateAdmin {
            username,
            email,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            // One hash, one caller: a pool of one slot.
            let hasher = defect_control::auth::password::HashPool::new(1, 1);
            let user = defect_control::domain::users::service::create_admin(
                &conn, &hasher, &username, &email, &password,
            )
            .await?;
            // Run without DATABASE_URL this writes to the SQLite default: say where it went.
            println!(
                "created admin {} (id {}) in DATABASE_URL={}",
                user.username,
                user.id,
                db::redacted(&config.database_url)
            );
        }
        Command::Serve {
            seed: seed_file, ..
        } => {
            if let Some(file) = seed_file {
                let report = seed::load_file(&conn, &file, lang).await?;
                tracing::info!(?report, "seed loaded");
            }
            let bind = config.bind_addr;
            // Folds the reports' past deadline rows into their counts (reports are exact
            // without it; this keeps what they read bounded as days pass). Rows become
            // past in every zone when the earliest today (UTC−12) changes: once a day (at
            // start, then within 10 min of noon UTC), retried after a failure; the table
            // lock is not taken every 10 minutes for nothing.
            let db = conn.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
                let mut done = None;
                loop {
                    tick.tick().await;
                    let now = defect_control::time::now();
                    let today = defect_control::domain::projects::site_time::earliest_today(now);
                    if done == Some(today) {
                        continue;
                    }
                    match defect_control::domain::reports::tally::compact(&db, now).await {
                        Ok(_) => done = Some(today),
                        Err(e) => {
                            tracing::warn!(error = %e, "compacting the report aggregate failed");
                        }
                    }
                }
            });
            let state = AppState::new(conn.clone(), config)?;
            tracing::info!(storage = %state.storage.description, "attachments storage");
            state.engine.start(state.shutdown.clone());
            let grace = state.config.shutdown_grace;
            let listener = listener.ok_or("serve without a listener")?;
            tracing::info!("listening on http://{bind} (GraphiQL at http://{bind}/graphql)");
            server::serve(listener, state, server::shutdown_signal(), grace).await?;
            conn.close().await?;
            tracing::info!("stopped");
        }
        Command::PrintSchema
        | Command::PrintOpenapi
        | Command::Healthcheck
        | Command::ReportsCheck { .. } => {
            unreachable!("handled before start-up")
        }
    }
    Ok(())
}

fn read_password(from_stdin: bool) -> Result<String, BoxError> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ")?;
    let again = rpassword::prompt_password("Repeat password: ")?;
    if first != again {
        return Err("the passwords do not match".into());
    }
    Ok(first)
}
