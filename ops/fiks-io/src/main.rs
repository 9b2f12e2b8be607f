//! Development only: runs the Fiks IO stand-in (`ops/run` starts it for the development
//! directory's barnevern service on Fiks IO).

use clap::Parser;
use fiks_io_standin::{Answer, Config, StandIn};
use std::time::Duration;
use uuid::Uuid;

#[derive(Parser)]
#[command(about = "A local stand-in for KS Fiks IO (development only)")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9110")]
    listen: std::net::SocketAddr,
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    broker: String,
    /// The broker's management API, through which the integration is let in to its answers.
    #[arg(long, default_value = "http://guest:guest@127.0.0.1:15672")]
    management: String,
    /// Where account keys, the development business certificate and what was received are
    /// written.
    #[arg(long, default_value = "data/fiks-io")]
    state: std::path::PathBuf,
    /// A receiving account that answers `mottatt`: `<uuid>` or `<uuid>:<organisation number>`.
    #[arg(long = "account")]
    accounts: Vec<String>,
    /// A sending account of the integration (its queue is declared).
    #[arg(long = "sender")]
    senders: Vec<Uuid>,
    #[arg(long)]
    integration_id: Uuid,
    /// The variable holding the integration's password.
    #[arg(long, default_value = "FIKS_IO_INTEGRATION_PASSWORD")]
    integration_password_env: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_target(false).init();
    let args = Args::parse();
    let password = std::env::var(&args.integration_password_env)
        .map_err(|_| anyhow::anyhow!("{} is not set", args.integration_password_env))?;
    // The development business certificate the adapters sign their grants with.
    let business = args.state.join("business");
    if !business.with_extension("key.pem").exists() {
        let (_, key, certificate) =
            fiks_io_standin::accounts::key_and_certificate("dev-only business certificate")?;
        fiks_io_standin::accounts::write_private(&business.with_extension("key.pem"), &key)?;
        std::fs::write(business.with_extension("cert.pem"), certificate)?;
    }
    let config = Config {
        broker_url: args.broker,
        management_url: args.management,
        state: args.state,
        audience: format!("http://{}/", args.listen),
        token_lifetime: Duration::from_secs(120),
        integration_id: args.integration_id,
        integration_password: password,
    };
    let standin = StandIn::start(args.listen, config).await?;
    for account in &args.accounts {
        let (id, organisation) = match account.split_once(':') {
            Some((id, organisation)) => (id, Some(organisation)),
            None => (account.as_str(), None),
        };
        standin.add_account(id.parse()?, organisation, Answer::Receipt)?;
    }
    for sender in args.senders {
        standin.add_sender(sender).await?;
    }
    tracing::info!(url = %standin.url(), "Fiks IO stand-in ready");
    // Stopped by ops/run with SIGTERM or by hand with Ctrl-C: either way the stand-in drops,
    // and with it the integration's broker user.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        stopped = tokio::signal::ctrl_c() => stopped?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
