//! The `gateway` command: serve the API, mint development tokens, check configuration.

use clap::{Parser, Subcommand};
use gateway::config::Config;
use gateway::devkeys::DevKey;
use gateway::directory::AdapterKind;
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
    /// Send a receipt as a barnevern case system does (development and demonstration).
    Receipt {
        /// received, failed or feedback.
        #[arg(long)]
        kind: String,
        /// The message the receipt is for.
        #[arg(long)]
        message_id: String,
        /// The case system's broker URL (its own account, which the receipt is checked against).
        #[arg(long)]
        url: String,
        /// For feedback: an investigation was opened.
        #[arg(long)]
        investigation_opened: bool,
        /// For failed: a reason code.
        #[arg(long, default_value = "unspecified")]
        code: String,
    },
    /// Dead letters of an adapter: list them (metadata only) or replay them.
    Dead {
        #[command(subcommand)]
        action: DeadAction,
    },
    /// Print the broker topology as RabbitMQ definitions (ops/rabbitmq/definitions.json).
    Definitions {
        /// Virtual host of the definitions.
        #[arg(long, default_value = "/")]
        vhost: String,
    },
}

#[derive(Subcommand)]
enum DeadAction {
    /// List an adapter's dead letters, or inspect one (ids, kind, tag, sender, why, when;
    /// never the body).
    List {
        /// barnevern, politikontakt or sspf.
        #[arg(long)]
        adapter: String,
        /// Only this message.
        #[arg(long)]
        id: Option<String>,
    },
    /// Put dead letters back into the adapter's work queue, with a fresh retry budget.
    Replay {
        /// barnevern, politikontakt or sspf.
        #[arg(long)]
        adapter: String,
        /// Message ids to replay (repeatable); none: all.
        #[arg(long)]
        id: Vec<String>,
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
        Command::Dead { action } => {
            let adapter = |name: &str| -> anyhow::Result<AdapterKind> {
                serde_json::from_value(serde_json::Value::String(name.into())).map_err(|_| {
                    anyhow::anyhow!("no adapter {name:?}: barnevern, politikontakt or sspf")
                })
            };
            let topology = gateway::publish::Topology::new(
                &config.broker.prefix,
                config.broker.delivery_limit,
            );
            let connection = lapin::Connection::connect(
                &config.broker.url,
                gateway::publish::connection_properties("gateway-operator"),
            )
            .await?;
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(lapin::options::ConfirmSelectOptions::default())
                .await?;
            match action {
                DeadAction::List { adapter: name, id } => {
                    let mut letters =
                        gateway::dead::list(&channel, &topology, adapter(&name)?).await?;
                    letters.retain(|l| id.is_none() || l.message_id == id);
                    println!("{}", serde_json::to_string_pretty(&letters)?);
                }
                DeadAction::Replay { adapter: name, id } => {
                    let replayed =
                        gateway::dead::replay(&channel, &topology, adapter(&name)?, &id).await?;
                    println!("{}", serde_json::to_string_pretty(&replayed)?);
                }
            }
            let _ = connection.close(200, "done".into()).await;
        }
        Command::Receipt {
            kind,
            message_id,
            url,
            investigation_opened,
            code,
        } => {
            let (kind, body) = match kind.as_str() {
                "received" => (gateway::receipt::RECEIVED, serde_json::json!({})),
                "failed" => (
                    gateway::receipt::FAILED,
                    serde_json::json!({ "code": code }),
                ),
                "feedback" => (
                    gateway::receipt::FEEDBACK,
                    serde_json::json!({ "undersokelseApnet": investigation_opened }),
                ),
                other => anyhow::bail!("no receipt kind {other:?}: received, failed or feedback"),
            };
            let topology = gateway::publish::Topology::new(
                &config.broker.prefix,
                config.broker.delivery_limit,
            );
            gateway::receipt::send(&url, &topology, kind, &message_id, &body).await?;
            println!("receipt sent");
        }
        Command::Check => {
            gateway::app::load(&config)?;
            println!("configuration, directory, catalog and schemas are valid");
        }
    }
    Ok(())
}
