//! The command line: `scorekeeper [serve]` and `scorekeeper api-key create --workspace NAME`.

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::db;
use crate::startup::Application;

/// Scorekeeper: CSAT, NPS, CES and ESAT surveys, self-hosted.
#[derive(Debug, Parser)]
#[command(name = "scorekeeper", version, about)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Manage API keys.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
}

/// `api-key` subcommands.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key for a workspace (created if missing). The key is printed once.
    Create {
        /// The workspace's name.
        #[arg(long)]
        workspace: String,
    },
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings).await?;
            app.run_until_stopped().await.context("server failed")
        }
        Command::ApiKey(ApiKeyCommand::Create { workspace }) => {
            let name = workspace.trim().to_owned();
            anyhow::ensure!(
                !name.is_empty() && name.chars().count() <= 200,
                "--workspace must be 1 to 200 characters"
            );
            let key = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
                let options = db::PoolOptions {
                    size: 1,
                    sqlite_busy_timeout_ms: settings.sqlite_busy_timeout_ms,
                };
                let pool = db::connect(&settings.database_url, options)?;
                db::run_migrations(&pool)?;
                let mut conn = pool.get().context("cannot check out a connection")?;
                let key = db::workspaces::create_api_key(&mut conn, &name)
                    .map_err(|e| anyhow::anyhow!("{e:?}"))
                    .context("cannot store the API key")?;
                Ok(key.expose().to_owned())
            })
            .await
            .context("key creation task failed")??;
            eprintln!(
                "Created an API key for workspace {:?}. It is shown only once:",
                workspace.trim()
            );
            println!("{key}");
            Ok(())
        }
    }
}
