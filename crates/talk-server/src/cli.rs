//! Command line: `serve`, `workspace create` and `keys rotate|retire`. Logs go to stderr so stdout stays
//! machine-readable.

use crate::{create_workspace, serve, tokens, AppState, NewWorkspace, Settings};
use clap::{Parser, Subcommand};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "talk-server", version, about = "The Talk chat server")]
pub struct Cli {
    /// Settings file (default: talk.toml in the working directory, if present).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Manage workspaces.
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Rotate or retire a workspace's token-signing keys (prints JSON).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a key that signs new tokens from now on; older tokens keep working.
    Rotate {
        #[arg(long)]
        workspace: String,
    },
    /// Reject every token signed by this key from now on.
    Retire {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        kid: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace and print its keys and admin login once.
    Create {
        #[arg(long)]
        name: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("talk-server: starting the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("talk-server: {error}");
            ExitCode::FAILURE
        }
    }
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

pub async fn run(cli: Cli) -> CliResult {
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => run_serve(settings).await,
        Command::Workspace {
            command: WorkspaceCommand::Create { name, json },
        } => {
            let state = AppState::connect(settings).await?;
            let created = create_workspace(&state.db, &name).await?;
            if json {
                println!("{}", serde_json::to_string(&created)?);
            } else {
                print_workspace(&name, &created);
            }
            Ok(())
        }
        Command::Keys { command } => {
            let state = AppState::connect(settings).await?;
            let printed = match command {
                KeysCommand::Rotate { workspace } => {
                    let kid = tokens::rotate_signing_key(&state.db, &workspace).await?;
                    json!({"workspace_id": workspace, "kid": kid})
                }
                KeysCommand::Retire { workspace, kid } => {
                    tokens::retire_signing_key(&state.db, &workspace, &kid).await?;
                    json!({"workspace_id": workspace, "kid": kid, "retired": true})
                }
            };
            println!("{printed}");
            Ok(())
        }
    }
}

fn print_workspace(name: &str, created: &NewWorkspace) {
    println!(
        "Workspace \"{name}\" ({id})\n  capture key:    {capture}\n  API key:        {api}\n  admin email:    {email}\n  admin password: {password}\nThe API key and password are shown only now.",
        id = created.workspace_id,
        capture = created.capture_key,
        api = created.api_key,
        email = created.admin_email,
        password = created.admin_password,
    );
}

async fn run_serve(settings: Settings) -> CliResult {
    let state = AppState::connect(settings.clone()).await?;
    if crate::workspaces::count(&state.db).await? == 0 {
        let created = create_workspace(&state.db, "Default").await?;
        println!("First start: created a default workspace.");
        print_workspace("Default", &created);
    }
    let listener = listen(&settings.listen).await?;
    tracing::info!(address = %listener.local_addr()?, public_url = %settings.public_url, "listening");
    serve(listener, state, shutdown_signal()).await?;
    Ok(())
}

/// The accept queue asked of the kernel, which caps it at `net.core.somaxconn` (4,096 by
/// default since Linux 5.4). `TcpListener::bind` asks for 128 (the standard library's
/// value): too few for a node whose 100 k browsers all reconnect after a restart; past the
/// queue a connection waits for its SYN to be retried (docs/deploy.md, "Many sockets").
const LISTEN_BACKLOG: u32 = 4096;

/// Listens on the first address `address` resolves to that binds, as `TcpListener::bind`
/// does, with `LISTEN_BACKLOG`.
async fn listen(address: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut last_error = None;
    for addr in tokio::net::lookup_host(address).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As `TcpListener::bind`: a restarted node binds again while its old connections
        // are in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        match socket.bind(addr) {
            Ok(()) => return socket.listen(LISTEN_BACKLOG),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{address} resolves to no address"),
        )
    }))
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
