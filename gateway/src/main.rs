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
    /// Show the messages waiting in a queue, leaving them there.
    Peek {
        /// Queue name (without the broker prefix), e.g. barnevern.0301.inbox.
        #[arg(long)]
        queue: String,
        /// Broker URL to read with (default: the gateway's); use the agency's own account.
        #[arg(long)]
        url: Option<String>,
        /// Messages to show at most.
        #[arg(long, default_value_t = 10)]
        max: usize,
    },
    /// Print the broker topology as RabbitMQ definitions (ops/rabbitmq/definitions.json).
    Definitions {
        /// Virtual host of the definitions.
        #[arg(long, default_value = "/")]
        vhost: String,
    },
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
        Command::Definitions { vhost } => {
            let directory = gateway::directory::Directory::load(&config.directory)?;
            let topology = gateway::publish::Topology::new(
                &config.broker.prefix,
                config.broker.delivery_limit,
            );
            let definitions = topology.definitions(&vhost, &directory.receiving_queues());
            println!("{}", serde_json::to_string_pretty(&definitions)?);
        }
        Command::Peek { queue, url, max } => {
            let url = url.unwrap_or_else(|| config.broker.url.clone());
            let queue = format!("{}{queue}", config.broker.prefix);
            let seen = gateway::peek::peek(&url, &queue, max).await?;
            println!("{}", serde_json::to_string_pretty(&seen)?);
        }
        Command::Check => {
            gateway::app::load(&config)?;
            println!("configuration, directory, catalog and schemas are valid");
        }
    }
    Ok(())
}
