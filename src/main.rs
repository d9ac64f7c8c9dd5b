//! The `scorekeeper` binary: parse the command line and hand over to the library.

use clap::Parser;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    scorekeeper::telemetry::init();
    scorekeeper::cli::run(scorekeeper::cli::Cli::parse()).await
}
