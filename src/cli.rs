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
    /// Ask the server at `LISTEN_ADDR` for `/healthz`; exit 0 if it answers 200 (for a
    /// container's HEALTHCHECK, where no curl is installed).
    Healthcheck,
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
        /// `generic` (our columns) or `delighted` (a Delighted response export).
        #[arg(long, value_enum, default_value_t = FileFormat::Generic)]
        format: FileFormat,
        /// Check every row and print what would be imported; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// The CSV file.
        file: std::path::PathBuf,
    },
}

/// The `--format` of an import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    /// `score`, `created_at`, optional `comment`, `email`, `name`; other columns are properties.
    Generic,
    /// A Delighted response export (see the README's "Moving from Delighted").
    Delighted,
}

/// `api-key` subcommands.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key for a workspace (created if missing). The key is printed once.
    Create {
        /// The workspace's name.
        #[arg(long)]
        workspace: String,
        /// Bind the key to this survey for the Delighted-compatible API under
        /// `/delighted/v1/` (the workspace and survey must exist).
        #[arg(long)]
        delighted_survey: Option<uuid::Uuid>,
    },
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Healthcheck => {
            let addr = crate::healthcheck::local_addr(&settings.listen_addr)?;
            tokio::task::spawn_blocking(move || crate::healthcheck::probe(addr))
                .await
                .context("health check task failed")?
        }
        Command::Serve => {
            let app = Application::build(settings).await?;
            app.run_until_stopped().await.context("server failed")
        }
        Command::Import(ImportCommand::Responses {
            survey,
            skip_invalid,
            format,
            dry_run,
            file,
        }) => {
            let options = crate::import::Options {
                format: match format {
                    FileFormat::Generic => crate::import::Format::Generic,
                    FileFormat::Delighted => crate::import::Format::Delighted,
                },
                skip_invalid,
                dry_run,
            };
            import_responses(settings, survey, options, file).await
        }
        Command::ApiKey(ApiKeyCommand::Create {
            workspace,
            delighted_survey,
        }) => {
            let name = workspace.trim().to_owned();
            anyhow::ensure!(
                !name.is_empty() && name.chars().count() <= 200,
                "--workspace must be 1 to 200 characters"
            );
            let key = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
                let mut conn = open_one(&settings)?;
                let key = match delighted_survey {
                    None => db::workspaces::create_api_key(&mut conn, &name),
                    Some(survey) => {
                        db::workspaces::create_delighted_key(&mut conn, &name, &survey.to_string())
                    }
                }
                .map_err(|e| anyhow::anyhow!("{e}"))
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
        checkout_timeout: settings.pool_timeout,
    };
    let pool = db::connect(&settings.database_url, options)?;
    db::run_migrations(&pool)?;
    pool.get().context("cannot check out a connection")
}

async fn import_responses(
    settings: Settings,
    survey: uuid::Uuid,
    options: crate::import::Options,
    file: std::path::PathBuf,
) -> anyhow::Result<()> {
    let skip_invalid = options.skip_invalid;
    let summary = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut conn = open_one(&settings)?;
        db::rollups::backfill_once(&mut conn).context("cannot roll up existing answers")?;
        db::prepare_bulk_write(&mut conn).context("cannot prepare the connection")?;
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} rows imported ({per_sec})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        let summary = crate::import::run(&mut conn, &survey.into(), &file, options, &|done| {
            bar.set_position(done)
        });
        bar.finish_and_clear();
        if matches!(&summary, Ok(s) if s.imported > 0) {
            db::after_bulk_write(&mut conn).context("cannot analyse the imported tables")?;
        }
        summary
    })
    .await
    .context("import task failed")??;
    for (line, field, message) in &summary.errors {
        eprintln!("line {line}: {field}: {message}");
    }
    if summary.skipped > 0 && !skip_invalid && !options.dry_run {
        anyhow::bail!(
            "{} invalid rows (the first are listed above); nothing was imported. \
             Fix them, or pass --skip-invalid to import the valid rows only",
            summary.skipped
        );
    }
    if options.dry_run {
        println!(
            "dry run: {} valid rows would be imported{}; nothing was written",
            summary.valid,
            if summary.skipped > 0 {
                format!(
                    ", {} invalid rows would be skipped with --skip-invalid",
                    summary.skipped
                )
            } else {
                String::new()
            }
        );
        return Ok(());
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
