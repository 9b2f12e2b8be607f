//! The `adapters` command: run every agency adapter until interrupted, or send a receipt
//! as a barnevern case system does.

use adapters::config::AdaptersConfig;
use adapters::queue::receipts;
use clap::{Parser, Subcommand};
use contract::directory::Directory;
use contract::status::Event;
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
    /// Without a command: run every adapter until interrupted.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Send a receipt or an answer as the case system of a receiving queue does
    /// (development and demonstration).
    Receipt {
        /// received, failed or feedback; or an answer: assessed, acknowledged, decided,
        /// investigation-extended, investigation-ended, concluded.
        #[arg(long)]
        kind: String,
        /// The message the receipt is for.
        #[arg(long)]
        message_id: String,
        /// The case system's broker URL (its own account, which the receipt is checked against).
        #[arg(long)]
        url: String,
        /// For feedback and decided: whether an investigation was opened
        /// (`--investigation-opened`, or `=false`); a decision that is not about one (a risk
        /// conference's) leaves it out.
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        investigation_opened: Option<bool>,
        /// For failed: a reason code.
        #[arg(long, default_value = "unspecified")]
        code: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    contract::plumbing::process::init("referral-adapters");
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
    if let Some(Command::Receipt {
        kind,
        message_id,
        url,
        investigation_opened,
        code,
    }) = &cli.command
    {
        let (kind, body) = match kind.as_str() {
            "received" => (receipts::RECEIVED, serde_json::json!({})),
            "failed" => (receipts::FAILED, serde_json::json!({ "code": code })),
            "feedback" => (
                receipts::FEEDBACK,
                serde_json::json!({ "undersokelseApnet": investigation_opened.unwrap_or(false) }),
            ),
            other => match receipts::ANSWERS
                .iter()
                .find(|(t, _)| *t == format!("referral.answer.{other}.v1"))
            {
                // A decision about an investigation says whether one was opened.
                Some((t, Event::Decided)) => (
                    *t,
                    match investigation_opened {
                        Some(opened) => serde_json::json!({ "investigationOpened": opened }),
                        None => serde_json::json!({}),
                    },
                ),
                Some((t, _)) => (*t, serde_json::json!({})),
                None => anyhow::bail!(
                    "no receipt kind {other:?}: received, failed, feedback, assessed, \
                     acknowledged, decided, investigation-extended, investigation-ended or \
                     concluded"
                ),
            },
        };
        let topology = config.broker.topology();
        let broker = config.broker.endpoint()?.with_url(url.as_str());
        receipts::send(&broker, &topology, kind, message_id, &body).await?;
        println!("receipt sent");
        return Ok(());
    }
    let directory = Arc::new(Directory::load(&config.directory)?);
    let running = adapters::start(&config, directory, Arc::default()).await?;
    contract::plumbing::process::shutdown_signal().await;
    tracing::info!("adapters shutting down");
    running.stop().await;
    contract::plumbing::otlp::finish().await;
    Ok(())
}
