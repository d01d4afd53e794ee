use std::{
    io::{BufRead, IsTerminal},
    path::PathBuf,
    process::ExitCode,
};

use clap::{Parser, Subcommand, builder::TypedValueParser};
use defect_control::{config::Config, db, graphql, i18n::Lang, seed, server, state::AppState};
use tracing_subscriber::{EnvFilter, fmt};

#[derive(Parser)]
#[command(
    name = "defect-control",
    version,
    about = "Defect tracking for construction sites: a GraphQL server",
    after_help = "Configuration comes from the environment (read once at start; a bad value \
stops the start naming the variable). The main variables:
  DATABASE_URL   sqlite://data/defect-control.db?mode=rwc (default) or postgres://USER:PASSWORD@HOST/DB
  BIND_ADDR      listen address (default 127.0.0.1:8000)
  JWT_SECRET     token signing key, 32+ characters (required with APP_ENV=production)
  STORAGE_URL    attachments: a directory (default ./data/media), memory:// or s3://bucket/prefix
  PUBLIC_URL     public origin for attachment links
  GRAPHIQL, INTROSPECTION   false to turn the playground and schema introspection off
  RUST_LOG, LOG_FORMAT      log filter; json for structured logs
The README's Configuration section lists every variable."
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
    /// comments, full names).
    #[arg(
        long = "lang",
        env = "SEED_LANG",
        default_value = "en",
        value_parser = clap::builder::PossibleValuesParser::new(["en", "ru"])
            .map(|tag| Lang::parse(&tag).unwrap_or_default()),
    )]
    lang: Lang,
}

fn init_tracing() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    if json {
        fmt().json().with_env_filter(filter).init();
    } else {
        // Colours only on a terminal: piped into a file or a log collector, escape codes
        // would garble every line.
        fmt()
            .with_ansi(std::io::stdout().is_terminal())
            .with_env_filter(filter)
            .init();
    }
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

#[tokio::main]
async fn main() -> ExitCode {
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
    init_tracing();
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
        lang: SeedLang { lang: Lang::En },
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
    let today = defect_control::time::today();
    let checked = check::run(&conn, today, repair).await?;
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
    let conn = open_database(&config, Some(config.statement_timeout())).await?;
    match command {
        Command::Migrate => {
            tracing::info!("migrations applied");
        }
        Command::Seed { file, lang } => {
            let report = seed::load_file(&conn, &file, lang.lang).await?;
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
            seed: seed_file,
            lang,
        } => {
            if let Some(file) = seed_file {
                let report = seed::load_file(&conn, &file, lang.lang).await?;
                tracing::info!(?report, "seed loaded");
            }
            let bind = config.bind_addr;
            // Folds the reports' past deadline rows into their counts (reports are exact
            // without it; this keeps what they read bounded as days pass). Rows become
            // past only when the date changes: once a day (at start, then within 10 min
            // of midnight UTC), retried after a failure; the table lock is not taken
            // every 10 minutes for nothing.
            let db = conn.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
                let mut done = None;
                loop {
                    tick.tick().await;
                    let today = defect_control::time::today();
                    if done == Some(today) {
                        continue;
                    }
                    match defect_control::domain::reports::tally::compact(&db, today).await {
                        Ok(_) => done = Some(today),
                        Err(e) => {
                            tracing::warn!(error = %e, "compacting the report aggregate failed");
                        }
                    }
                }
            });
            let state = AppState::new(conn.clone(), config)?;
            tracing::info!(storage = %state.storage.description, "attachments storage");
            let grace = state.config.shutdown_grace;
            let listener = tokio::net::TcpListener::bind(bind).await?;
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
