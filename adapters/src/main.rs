//! The `adapters` command: run every agency adapter until interrupted.

use adapters::config::AdaptersConfig;
use clap::Parser;
use gateway::directory::Directory;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "adapters", about = "Agency adapters of the referral gateway")]
struct Cli {
    /// Configuration file (keys overridable by ADAPTERS__SECTION__KEY variables).
    #[arg(
        long,
        short,
        env = "ADAPTERS_CONFIG",
        default_value = "ops/config/adapters.dev.toml"
    )]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    gateway::telemetry::init();
    let cli = Cli::parse();
    match run(&cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("adapters: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: &Cli) -> anyhow::Result<()> {
    let config = AdaptersConfig::load(&cli.config)?;
    let directory = Arc::new(Directory::load(&config.directory)?);
    let running = adapters::start(&config, directory, Arc::default()).await?;
    gateway::app::shutdown_signal().await;
    tracing::info!("adapters shutting down");
    running.stop().await;
    Ok(())
}
