//! `roster`: the Roster service and its operator commands.

use std::fmt::Display;
use std::io::{self, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use adapter_system::{OsRandom, SystemClock};
use bootstrap::{App, Config, StorageChoice};
use clap::{Parser, Subcommand};
use poem::listener::{Listener, TcpListener};
use secrecy::ExposeSecret;
use tracing_subscriber::EnvFilter;

// mimalloc instead of glibc's allocator, for two measured reasons: glibc
// serialises the two workers on its arena lock (four context switches in
// ten on the authenticated read were waits for it), and it keeps the
// 19 MiB argon2 buffers of a login flood instead of returning them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Give the user with this e-mail the admin role.
    Grant {
        /// The user's e-mail address.
        email: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
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
    }
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
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(
            EnvFilter::try_new(&config.log).map_err(|e| anyhow::anyhow!("ROSTER_LOG: {e}"))?,
        )
        .init();

    let storage = bootstrap::open_storage(&config).await?;
    let app = App::build(&config, storage, Arc::new(SystemClock))?;
    if app.embedded {
        tracing::warn!(
            "EMBEDDED MODE: storage is in memory; every account, session and change is LOST when the process exits. \
             Set DATABASE_URL for durable storage."
        );
    }
    if app.ephemeral_key {
        tracing::warn!(
            "EPHEMERAL SIGNING KEY: access tokens stop verifying when the process exits. \
             Set ROSTER_TOKEN_KEY (see `roster keygen`) to keep them."
        );
    }
    for name in Config::inert_settings() {
        if std::env::var_os(name).is_some() {
            tracing::warn!(
                setting = name,
                "this setting is accepted but has no effect in this build"
            );
        }
    }
    let shutdown = shutdown_signal()?;
    let acceptor = TcpListener::bind(config.bind).into_acceptor().await?;
    tracing::info!(bind = %config.bind, public_url = %config.public_url, "roster is listening");
    app.serve(acceptor, shutdown).await?;
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
            tracing::info!("shutdown requested; finishing in-flight requests");
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
    })
}
