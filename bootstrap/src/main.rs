//! `roster`: the Roster service and its operator commands.

use std::fmt::Display;
use std::io::{self, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use adapter_system::{OsRandom, SystemClock};
use bootstrap::{App, Config, StorageChoice};
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use tracing_subscriber::EnvFilter;

// mimalloc instead of glibc's allocator, for two measured reasons: glibc
// serialises the two workers on its arena lock (four context switches in
// ten on the authenticated read were waits for it), and it keeps the
// 19 MiB argon2 buffers of a login flood instead of returning them.
//
// Transparent huge pages are off for the process: where the kernel backs
// every anonymous region with 2 MiB pages (`transparent_hugepage=always`, a
// common default), a few live objects keep whole 2 MiB pages of mimalloc's
// arena resident. Measured on the idle server: 46 of its 73 MiB were such
// pages; without them it idles at 53 MiB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    #[cfg(target_os = "linux")]
    if let Err(error) = nix::sys::prctl::set_thp_disable(true) {
        eprintln!("roster: cannot turn transparent huge pages off ({error}); going on with them");
    }
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(start()),
        Err(error) => {
            eprintln!("roster: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Roster: accounts, characters, teams and progress for Dofus players.
///
/// Configuration comes from environment variables (and a `.env` file),
/// listed by `roster serve --help`; with none set, `roster` serves on
/// 127.0.0.1:8080 with memory storage.
#[derive(Debug, Parser)]
#[command(name = "roster", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (the default); --help lists every setting.
    #[command(after_long_help = bootstrap::config::help())]
    Serve,
    /// Print the OpenAPI document to stdout.
    Openapi,
    /// Apply pending database migrations (needs DATABASE_URL).
    Migrate,
    /// Operator tasks on the database.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print a new PASERK secret key for ROSTER_TOKEN_KEY.
    Keygen,
    /// Run background jobs only (no HTTP) until SIGTERM; needs DATABASE_URL.
    ///
    /// Runs ROSTER_WORKER_CONCURRENCY jobs at once. On SIGTERM or SIGINT it
    /// takes no new job, lets running ones finish for 20 s, then gives the
    /// rest back to the queue for another worker.
    Worker,
    /// Run one periodic task once and exit (0 on success); needs DATABASE_URL.
    ///
    /// For a platform scheduler (a Kubernetes CronJob, a systemd timer).
    /// `roster cron --list` names the tasks.
    Cron {
        /// The task to run.
        #[arg(required_unless_present = "list")]
        task: Option<String>,
        /// List the tasks and exit.
        #[arg(long, conflicts_with = "task")]
        list: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Give the user with this e-mail the admin role.
    Grant {
        /// The user's e-mail address.
        email: String,
    },
}

async fn start() -> ExitCode {
    let cli = Cli::parse();
    // A missing .env is normal; a malformed one is worth stopping for.
    // Only the working directory's `.env`: `dotenvy::dotenv` would also
    // search every parent directory, and a stray file there must not
    // configure the service.
    if let Err(error) = dotenvy::from_path(".env")
        && !error.not_found()
    {
        eprintln!("roster: cannot read .env: {error}");
        return ExitCode::FAILURE;
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("roster: invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    match run(cli.command.unwrap_or(Command::Serve), config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "roster stopped");
            eprintln!("roster: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Openapi => {
            // The document does not depend on the backend: never connect for it.
            let app = App::build(&config, StorageChoice::memory(), Arc::new(SystemClock))?;
            print(app.openapi_document())?;
            Ok(())
        }
        Command::Migrate => {
            let url = config
                .database_url
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("DATABASE_URL: required by `roster migrate`"))?;
            let applied = bootstrap::connect_postgres(&config, url.expose_secret())?
                .migrator()
                .run()
                .await?;
            if applied.is_empty() {
                print("the database is up to date")?;
            }
            for name in applied {
                print(format_args!("applied {name}"))?;
            }
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::Grant { email },
        } => {
            if config.database_url.is_none() {
                anyhow::bail!(
                    "DATABASE_URL: `roster admin grant` changes the database; with memory storage there is nothing to change"
                );
            }
            let storage = bootstrap::open_storage(&config).await?;
            let email = domain::Email::parse(&email)
                .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
            application::admin::grant_admin(
                storage.storage.as_ref(),
                &SystemClock,
                &OsRandom,
                &email,
            )
            .await?;
            print(format_args!("{email} is now an admin"))?;
            Ok(())
        }
        Command::Keygen => {
            print(adapter_paseto::generate_paserk_secret(&OsRandom)?)?;
            Ok(())
        }
        Command::Serve => serve(config).await,
        Command::Worker => worker(config).await,
        Command::Cron { list: true, .. } => {
            for task in application::maintenance::TASKS {
                print(format_args!("{:<16} {}", task.name, task.summary))?;
            }
            Ok(())
        }
        Command::Cron { task, .. } => cron(config, task.as_deref().unwrap_or_default()).await,
    }
}

/// Runs one periodic task, after checking its name before anything else.
async fn cron(config: Config, name: &str) -> anyhow::Result<()> {
    use application::maintenance::TASKS;
    if !TASKS.iter().any(|t| t.name == name) {
        let names: Vec<&str> = TASKS.iter().map(|t| t.name).collect();
        anyhow::bail!(
            "unknown task {name:?}; the tasks are {} (`roster cron --list` says what each does)",
            names.join(", ")
        );
    }
    if config.database_url.is_none() {
        anyhow::bail!(
            "DATABASE_URL: `roster cron` works on the database; with memory storage the embedded worker runs these tasks itself"
        );
    }
    init_logging(&config)?;
    let storage = bootstrap::open_storage(&config).await?;
    let clock = SystemClock;
    match name {
        "sessions.purge" => {
            let (sessions, copies) = application::maintenance::purge_sessions(
                storage.storage.as_ref(),
                &clock,
                config.refresh_reuse_grace,
            )
            .await?;
            tracing::info!(sessions, copies, "cron sessions.purge done");
        }
        "jobs.prune" => {
            let deleted = application::jobs::prune(
                storage.storage.as_ref(),
                domain::ports::Clock::now(&clock),
            )
            .await?;
            tracing::info!(deleted, "cron jobs.prune done");
        }
        "catalog.sync" => {
            if config.catalog_source.is_none() {
                anyhow::bail!("ROSTER_CATALOG_SOURCE: a catalog sync needs a source; it is unset");
            }
            let enqueued = application::jobs::enqueue(
                storage.storage.as_ref(),
                &application::catalog_sync::CATALOG_SYNC,
                &serde_json::json!({}),
                &clock,
                &OsRandom,
            )
            .await?;
            let created = matches!(enqueued, domain::Enqueued::Created(_));
            tracing::info!(job.id = %enqueued.job().id, created, "cron catalog.sync done");
        }
        _ => unreachable!("checked above"),
    }
    Ok(())
}

/// Runs jobs until SIGTERM or SIGINT.
async fn worker(config: Config) -> anyhow::Result<()> {
    if config.database_url.is_none() {
        anyhow::bail!(
            "DATABASE_URL: `roster worker` drains the job queue in the database; with memory storage `roster serve` runs the jobs itself"
        );
    }
    init_logging(&config)?;
    let shutdown = shutdown_signal()?;
    let storage = bootstrap::open_storage(&config).await?;
    let app = App::build(&config, storage, Arc::new(SystemClock))?;
    // With ROSTER_METRICS_BIND, the worker's own metrics (job durations,
    // the queue, the pool) are scraped there; it stops with the worker.
    let (stop_metrics, metrics_stopping) = tokio::sync::oneshot::channel::<()>();
    let metrics = match app.bind_metrics().await? {
        Some(acceptor) => {
            tracing::info!(metrics_bind = ?config.metrics_bind, "/metrics is served on its own address");
            Some(app.serve_metrics(acceptor, async move {
                let _ = metrics_stopping.await;
            }))
        }
        None => None,
    };
    let stopped = match metrics {
        Some(metrics) => {
            let (stopped, served) = tokio::join!(
                async {
                    let stopped = app.worker().run(shutdown).await;
                    let _ = stop_metrics.send(());
                    stopped
                },
                metrics
            );
            served?;
            stopped
        }
        None => app.worker().run(shutdown).await,
    };
    tracing::info!(
        finished = stopped.finished,
        released = stopped.released,
        "roster worker stopped"
    );
    Ok(())
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(
            EnvFilter::try_new(&config.log).map_err(|e| anyhow::anyhow!("ROSTER_LOG: {e}"))?,
        )
        .init();
    Ok(())
}

/// Prints `text` and a newline to stdout. A reader that has gone away
/// (`roster openapi | head`) is no error: stop quietly, with success, where
/// `println!` would panic.
fn print(text: impl Display) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        written => written,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    init_logging(&config)?;

    let storage = bootstrap::open_storage(&config).await?;
    let app = App::build(&config, storage, Arc::new(SystemClock))?;
    if app.embedded {
        tracing::warn!(
            "EMBEDDED MODE: storage is in memory; every account, session and change is LOST when the process exits. \
             Set DATABASE_URL for durable storage."
        );
    }
    if app.database_key {
        tracing::warn!(
            "no ROSTER_TOKEN_KEY: signing tokens with the key kept in the database (table \
             generated_token_key), shared by every instance on it. Whoever can read that table \
             can sign tokens; set ROSTER_TOKEN_KEY (see `roster keygen`) instead."
        );
    }
    if app.ephemeral_key {
        tracing::warn!(
            "EPHEMERAL SIGNING KEY: access tokens stop verifying when the process exits. \
             Set ROSTER_TOKEN_KEY (see `roster keygen`) to keep them."
        );
    }
    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(config.bind).await?;
    let metrics = app.bind_metrics().await?;
    if let Some(bind) = config.metrics_bind {
        tracing::info!(metrics_bind = %bind, "/metrics is served on its own address");
    }
    tracing::info!(bind = %config.bind, public_url = %config.public_url, "roster is listening");
    app.serve(listener, metrics, shutdown).await?;
    tracing::info!("roster stopped gracefully");
    Ok(())
}

/// Completes on SIGINT or SIGTERM. The handlers are installed when this is
/// called, before the server listens, so a signal that arrives early still
/// stops it gracefully instead of killing the process.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
            tracing::info!("shutdown requested; finishing in-flight work");
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
    })
}
