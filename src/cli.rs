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
    /// Import past answers.
    #[command(subcommand)]
    Import(ImportCommand),
}

/// `import` subcommands.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Load past answers from a CSV file: columns `score`, `created_at`, and optionally
    /// `comment`, `email`, `name`; every other column is a property. Every row is checked
    /// first: a bad row is reported with its line number and nothing is imported.
    Responses {
        /// The survey to import into.
        #[arg(long)]
        survey: uuid::Uuid,
        /// Import the valid rows and skip the bad ones.
        #[arg(long)]
        skip_invalid: bool,
        /// The CSV file.
        file: std::path::PathBuf,
    },
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
        Command::Import(ImportCommand::Responses {
            survey,
            skip_invalid,
            file,
        }) => import_responses(settings, survey, skip_invalid, file).await,
        Command::ApiKey(ApiKeyCommand::Create { workspace }) => {
            let name = workspace.trim().to_owned();
            anyhow::ensure!(
                !name.is_empty() && name.chars().count() <= 200,
                "--workspace must be 1 to 200 characters"
            );
            let key = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
                let mut conn = open_one(&settings)?;
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

/// One connection to the configured database, migrated, for a command-line task.
fn open_one(settings: &Settings) -> anyhow::Result<db::DbConn> {
    let options = db::PoolOptions {
        size: 1,
        sqlite_busy_timeout_ms: settings.sqlite_busy_timeout_ms,
    };
    let pool = db::connect(&settings.database_url, options)?;
    db::run_migrations(&pool)?;
    pool.get().context("cannot check out a connection")
}

async fn import_responses(
    settings: Settings,
    survey: uuid::Uuid,
    skip_invalid: bool,
    file: std::path::PathBuf,
) -> anyhow::Result<()> {
    let summary = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut conn = open_one(&settings)?;
        db::rollups::backfill_once(&mut conn).context("cannot roll up existing answers")?;
        db::prepare_bulk_write(&mut conn).context("cannot prepare the connection")?;
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} rows imported ({per_sec})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        let summary = crate::import::run(&mut conn, &survey.into(), &file, skip_invalid, &|done| {
            bar.set_position(done)
        });
        bar.finish_and_clear();
        summary
    })
    .await
    .context("import task failed")??;
    for (line, field, message) in &summary.errors {
        eprintln!("line {line}: {field}: {message}");
    }
    if summary.skipped > 0 && !skip_invalid {
        anyhow::bail!(
            "{} invalid rows (the first are listed above); nothing was imported. \
             Fix them, or pass --skip-invalid to import the valid rows only",
            summary.skipped
        );
    }
    println!(
        "imported {} rows{}",
        summary.imported,
        if summary.skipped > 0 {
            format!(", skipped {} invalid", summary.skipped)
        } else {
            String::new()
        }
    );
    Ok(())
}
