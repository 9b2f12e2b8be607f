//! The `gateway` command: serve the API, mint development tokens, check configuration.

use clap::{Parser, Subcommand};
use gateway::config::Config;
use gateway::devkeys::DevKey;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "gateway", about = "Referral gateway between public agencies")]
struct Cli {
    /// Configuration file (keys overridable by GATEWAY__SECTION__KEY variables).
    #[arg(
        long,
        short,
        env = "GATEWAY_CONFIG",
        default_value = "ops/config/gateway.dev.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway until interrupted.
    Serve,
    /// Print a development token for an organisation of the directory (needs auth.dev_key_dir).
    Token {
        /// Agency id of the directory.
        #[arg(long)]
        org: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 900)]
        ttl: i64,
    },
    /// Load and check the configuration, directory, catalog and schemas, then exit.
    Check,
}

#[tokio::main]
async fn main() -> ExitCode {
    gateway::telemetry::init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gateway: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.config)?;
    match cli.command {
        Command::Serve => {
            let running = gateway::app::start(&config).await?;
            running.run_until(gateway::app::shutdown_signal()).await?;
        }
        Command::Token { org, ttl } => {
            let dir = config.auth.dev_key_dir.as_ref().ok_or_else(|| {
                anyhow::anyhow!(
                    "auth.dev_key_dir is not set: tokens come from the identity provider"
                )
            })?;
            let loaded = gateway::app::load(&config)?;
            anyhow::ensure!(
                loaded.directory.get(&org).is_some(),
                "no agency {org:?} in the directory"
            );
            let token = DevKey::ensure(dir)?.token(
                &config.auth.issuer,
                &config.auth.audience,
                &org,
                ttl,
            )?;
            println!("{token}");
        }
        Command::Check => {
            gateway::app::load(&config)?;
            println!("configuration, directory, catalog and schemas are valid");
        }
    }
    Ok(())
}
