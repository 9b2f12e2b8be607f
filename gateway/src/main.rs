//! The `gateway` command: serve the API, mint development tokens, check configuration.

use clap::{Parser, Subcommand};
use contract::directory::Transport;
use gateway::config::Config;
use gateway::devkeys::{DevKey, DevMaskinporten};
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
        /// Agency id of the directory (the gateway's own profile).
        #[arg(long, required_unless_present = "orgnr")]
        org: Option<String>,
        /// The token's profile: `gateway` (its own, by agency id) or `maskinporten` (by
        /// organisation number, as Digdir's Maskinporten issues them; the development
        /// stand-in of the first `[[auth.issuers]]` entry).
        #[arg(long, default_value = "gateway")]
        profile: String,
        /// Organisation number (9 digits), for the `maskinporten` profile.
        #[arg(long)]
        orgnr: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 900)]
        ttl: i64,
        /// Scopes, space-separated (e.g. the data protection officer's, auth.dpo_scope).
        #[arg(long)]
        scope: Option<String>,
    },
    /// Load and check the configuration, directory, catalog and schemas, then exit.
    Check,
    /// Print the OpenAPI document of the HTTP API (what `GET /openapi.json` serves).
    Openapi,
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
    /// Dead letters of an adapter: list them (metadata only) or replay them.
    Dead {
        #[command(subcommand)]
        action: DeadAction,
    },
    /// The key file: create it, or rotate its key-encryption key.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// For a receiving system: open a sealed document (a JWE read from standard input) with
    /// the recipient's private key, and write it to standard output.
    Unseal {
        /// The recipient's private key (a JWK file).
        #[arg(long)]
        key: PathBuf,
    },
    /// For a receiving system: generate a key pair to take messages sealed. Writes the
    /// private JWK to `--out` (0600) and prints the public JWK for the directory.
    RecipientKey {
        /// Where to write the private key.
        #[arg(long)]
        out: PathBuf,
        /// The curve: p256 or x25519.
        #[arg(long, default_value = "x25519")]
        curve: String,
        /// The key's id (`kid`), e.g. the agency and a date.
        #[arg(long)]
        kid: Option<String>,
    },
    /// The audit trail: check that no entry was changed, removed or reordered.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Print the broker topology as RabbitMQ definitions (ops/rabbitmq/definitions.json).
    Definitions {
        /// Virtual host of the definitions.
        #[arg(long, default_value = "/")]
        vhost: String,
    },
    /// The broker's queues.
    Broker {
        #[command(subcommand)]
        action: BrokerAction,
    },
}

#[derive(Subcommand)]
enum BrokerAction {
    /// Move the queues an earlier version declared with arguments to plain quorum queues
    /// whose settings are policies, keeping their messages (the gateway and the adapters
    /// stopped; needs broker.management_url). Prints what it moved.
    Migrate,
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create the key file (keys.file, mode 0600) with fresh keys; never overwrites one.
    Init,
    /// Add a key-encryption key, re-wrap every stored data key under it, and remove the
    /// keys of earlier rotations that nothing uses. A running gateway follows the file.
    Rotate,
}

#[derive(Subcommand)]
enum AuditAction {
    /// Recompute the chain of the audit trail; prints what it found and fails if the trail
    /// was tampered with.
    Verify {
        /// The file the gateway exports its signed head to (`[audit] head_file`): the trail
        /// must reach the latest head exported there, unchanged.
        #[arg(long)]
        head: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DeadAction {
    /// List an adapter's dead letters, or inspect one (ids, kind, tag, sender, why, when;
    /// never the body).
    List {
        /// The adapter, by its transport: queue, inbox or fiks_io.
        #[arg(long)]
        adapter: String,
        /// Only this message.
        #[arg(long)]
        id: Option<String>,
    },
    /// Put dead letters back into the adapter's work queue, with a fresh retry budget; each
    /// is audited first, with its reason.
    Replay {
        /// The adapter, by its transport: queue, inbox or fiks_io.
        #[arg(long)]
        adapter: String,
        /// Message ids to replay (repeatable); none: all.
        #[arg(long)]
        id: Vec<String>,
        /// Why: recipient_fixed, transient_fault, sent_in_error, duplicate or
        /// recipient_gone (the audit trail holds no free text).
        #[arg(long)]
        reason: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // A command's standard output is its answer (a token, a list): its logs go to stderr.
    match cli.command {
        Command::Serve => contract::plumbing::process::init("referral-gateway"),
        _ => contract::plumbing::process::init_for_command("referral-gateway"),
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gateway: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // A receiving system's commands need no gateway configuration.
    match &cli.command {
        Command::Unseal { key } => return unseal(key),
        Command::RecipientKey { out, curve, kid } => return recipient_key(out, curve, kid),
        _ => {}
    }
    let config = Config::load(&cli.config)?;
    match cli.command {
        Command::Unseal { .. } | Command::RecipientKey { .. } => unreachable!("handled above"),
        Command::Serve => {
            let running = gateway::app::start(&config).await?;
            running
                .run_until(contract::plumbing::process::shutdown_signal())
                .await?;
            contract::plumbing::otlp::finish().await;
        }
        Command::Token {
            org,
            profile,
            orgnr,
            ttl,
            scope,
        } => {
            let dir = config.auth.dev_key_dir.as_ref().ok_or_else(|| {
                anyhow::anyhow!(
                    "auth.dev_key_dir is not set: tokens come from the identity provider"
                )
            })?;
            if profile == "maskinporten" {
                let orgnr = orgnr.ok_or_else(|| anyhow::anyhow!("--orgnr is required"))?;
                let issuer = config
                    .auth
                    .issuers
                    .first()
                    .and_then(|i| Some((i.issuer_and_jwks()?.0, i.scopes.clone())))
                    .ok_or_else(|| anyhow::anyhow!("no [[auth.issuers]] entry to stand in for"))?;
                let scope = scope.unwrap_or(format!("{} {}", issuer.1.send, issuer.1.read));
                let claims = DevMaskinporten::claims(&issuer.0, &orgnr, &scope, ttl);
                println!("{}", DevMaskinporten::ensure(dir)?.sign(&claims)?);
                return Ok(());
            }
            anyhow::ensure!(
                profile == "gateway",
                "no profile {profile:?}: gateway or maskinporten"
            );
            let org = org.ok_or_else(|| anyhow::anyhow!("--org is required"))?;
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
                scope,
            )?;
            println!("{token}");
        }
        Command::Definitions { vhost } => {
            let directory = contract::directory::Directory::load(&config.directory)?;
            let topology = config.broker.topology();
            let definitions = topology.definitions(&vhost, &directory.receiving_queues());
            println!("{}", serde_json::to_string_pretty(&definitions)?);
        }
        Command::Broker {
            action: BrokerAction::Migrate,
        } => {
            let migrated = gateway::operate::broker_migrate(&config).await?;
            println!("{}", serde_json::to_string_pretty(&migrated)?);
        }
        Command::Peek { queue, url, max } => {
            let broker = config.broker.endpoint()?;
            let broker = url.map_or(broker.clone(), |url| broker.with_url(url));
            let queue = format!("{}{queue}", config.broker.prefix);
            let seen = gateway::operate::peek::peek(&broker, &queue, max).await?;
            println!("{}", serde_json::to_string_pretty(&seen)?);
        }
        Command::Dead { action } => {
            let adapter = |name: &str| -> anyhow::Result<Transport> {
                name.parse()
                    .map_err(|_| anyhow::anyhow!("no adapter {name:?}: queue, inbox or fiks_io"))
            };
            let topology = config.broker.topology();
            let (connection, channel) = contract::plumbing::broker::confirming(
                &config.broker.endpoint()?,
                "gateway-operator",
            )
            .await?;
            match action {
                DeadAction::List { adapter: name, id } => {
                    let mut letters =
                        gateway::operate::dead::list(&channel, &topology, adapter(&name)?).await?;
                    letters.retain(|l| id.is_none() || l.message_id == id);
                    println!("{}", serde_json::to_string_pretty(&letters)?);
                }
                DeadAction::Replay {
                    adapter: name,
                    id,
                    reason,
                } => {
                    // Not echoed: a reason off the list is free text, which may name someone.
                    let reason = reason.parse().map_err(|_| {
                        anyhow::anyhow!(
                            "--reason is not one of the reasons an operator may give (see --help)"
                        )
                    })?;
                    let store = gateway::operate::audited_store(&config).await?;
                    let replayed = gateway::operate::dead::replay_audited(
                        &channel,
                        &topology,
                        store.as_ref(),
                        (adapter(&name)?, &id),
                        reason,
                    )
                    .await?;
                    println!("{}", serde_json::to_string_pretty(&replayed)?);
                }
            }
            let _ = connection.close(200, "done".into()).await;
        }
        Command::Keys { action } => match action {
            KeysAction::Init => {
                let current = gateway::operate::keys_init(&config).await?;
                println!(
                    "created {} with key-encryption key {current}; back it up apart from the database",
                    config.keys.file.display()
                );
            }
            KeysAction::Rotate => {
                let rotation = gateway::operate::keys_rotate(&config).await?;
                println!("{}", serde_json::to_string_pretty(&rotation)?);
            }
        },
        Command::Audit {
            action: AuditAction::Verify { head },
        } => {
            let report = gateway::operate::audit_verify(&config, head.as_deref()).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            anyhow::ensure!(
                report.breaks.is_empty(),
                "the audit trail was tampered with"
            );
        }
        Command::Check => {
            gateway::app::load(&config)?;
            println!("configuration, directory, catalog and schemas are valid");
        }
        Command::Openapi => {
            let document = gateway::api::openapi::document(&config.schemas)?;
            println!("{}", serde_json::to_string_pretty(&document)?);
        }
    }
    Ok(())
}

fn unseal(key: &std::path::Path) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let jwk: serde_json::Value = serde_json::from_slice(&std::fs::read(key)?)?;
    let key = gateway::seal::PrivateJwk::from_json(&jwk)?;
    let mut jwe = String::new();
    std::io::stdin().read_to_string(&mut jwe)?;
    let document = gateway::seal::unseal(&jwe, &key)?;
    std::io::stdout().write_all(&document)?;
    Ok(())
}

fn recipient_key(out: &std::path::Path, curve: &str, kid: &Option<String>) -> anyhow::Result<()> {
    use gateway::seal::{Curve, PrivateJwk};
    let curve = match curve {
        "p256" => Curve::P256,
        "x25519" => Curve::X25519,
        other => anyhow::bail!("no curve {other:?}: p256 or x25519"),
    };
    anyhow::ensure!(!out.exists(), "{} exists already", out.display());
    let pair = PrivateJwk::generate(curve, kid.clone());
    contract::plumbing::private::write(out, pair.to_json().to_string().as_bytes())?;
    println!("{}", pair.public.to_json());
    Ok(())
}
