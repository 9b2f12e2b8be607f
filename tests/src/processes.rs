//! The gateway and the adapters as their own processes (as `ops/run` starts them),
//! configured by environment overrides onto a harness's names, keys and stores, for the
//! tests that `kill -9` them.

use crate::Harness;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tokio::task::JoinHandle;

/// A binary of the workspace, built by `cargo test --workspace --all-targets`.
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        path.exists(),
        "{} is built (cargo test --workspace --all-targets)",
        path.display()
    );
    path
}

/// Starts processes on the harness `h`'s broker names, keys and stores (its gateway
/// stopped), logging into its folder.
pub struct Processes<'h> {
    pub h: &'h Harness,
    /// The adapters' shared PostgreSQL ledger, if not a SQLite file of their own.
    pub ledger_url: Option<String>,
    /// More environment for every process (an OTLP endpoint, say).
    pub env: Vec<(String, String)>,
}

impl Processes<'_> {
    fn spawn(&self, name: &str, log: &str, args: &[&str], env: Vec<(String, String)>) -> Process {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.h.dir.join(format!("{log}.log")))
            .unwrap();
        let child = Command::new(binary(name))
            .args(args)
            .envs(env)
            .envs(self.env.iter().cloned())
            .env("RUST_LOG", "warn,gateway=info,adapters=info")
            .current_dir(crate::repo())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        Process(child)
    }

    /// A gateway listening on `port`, on the harness's store (its SQLite file, or its
    /// PostgreSQL database, which several gateways share).
    pub fn gateway(&self, port: u16) -> Process {
        self.spawn(
            "gateway",
            &format!("gateway-{port}"),
            &["--config", "ops/config/gateway.dev.toml", "serve"],
            self.gateway_env(port),
        )
    }

    /// Runs the gateway's command `args` (an operator's: `dead replay …`) on the harness's
    /// names, keys and store; its output.
    pub fn gateway_command(&self, args: &[&str]) -> std::process::Output {
        Command::new(binary("gateway"))
            .args(["--config", "ops/config/gateway.dev.toml"])
            .args(args)
            .envs(self.gateway_env(0))
            .current_dir(crate::repo())
            .output()
            .unwrap()
    }

    /// The environment of a gateway on `port` on the harness's names, keys and store.
    fn gateway_env(&self, port: u16) -> Vec<(String, String)> {
        let c = &self.h.config;
        [
            ("DIRECTORY", c.directory.display().to_string()),
            ("HTTP__LISTEN", format!("127.0.0.1:{port}")),
            ("AUTH__ISSUER", c.auth.issuer.clone()),
            ("AUTH__JWKS", c.auth.jwks.clone()),
            (
                "AUTH__DEV_KEY_DIR",
                self.h.dir.join("keys").display().to_string(),
            ),
            ("BROKER__PREFIX", c.broker.prefix.clone()),
            (
                "STORE__SQLITE_PATH",
                c.store.sqlite_path.display().to_string(),
            ),
            ("KEYS__FILE", c.keys.file.display().to_string()),
            ("OUTBOX__INTERVAL_MS", "200".into()),
            (
                "AUDIT__HEAD_FILE",
                self.h.dir.join("audit-head.jsonl").display().to_string(),
            ),
            (
                "DELIVERY__ADAPTERS_KEY",
                self.h
                    .dir
                    .join("delivery-key.pub.jwk")
                    .display()
                    .to_string(),
            ),
            (
                "DELIVERY__DEV_GENERATE",
                self.h.delivery_key().display().to_string(),
            ),
        ]
        .into_iter()
        .chain(c.store.url.clone().map(|url| ("STORE__URL", url)))
        .map(|(k, v)| (format!("GATEWAY__{k}"), v))
        .collect()
    }

    /// An adapters process (the `n`th, for its log).
    pub fn adapters(&self, n: usize) -> Process {
        let ledger = match &self.ledger_url {
            Some(url) => ("RUNTIME__LEDGER_URL", url.clone()),
            None => (
                "RUNTIME__LEDGER",
                self.h.dir.join("ledger.sqlite").display().to_string(),
            ),
        };
        let env = [
            ("DIRECTORY", self.h.config.directory.display().to_string()),
            ("BROKER__PREFIX", self.h.config.broker.prefix.clone()),
            ledger,
            ("HTTP__LISTEN", "127.0.0.1:0".into()),
            // A claim left by a killed process runs out in seconds, not a minute.
            ("RUNTIME__INBOX_TIMEOUT_MS", "2000".into()),
            ("RUNTIME__CLAIM_LEASE_SECS", "10".into()),
            (
                "RUNTIME__DELIVERY_KEY",
                self.h.delivery_key().display().to_string(),
            ),
        ]
        .map(|(k, v)| (format!("ADAPTERS__{k}"), v))
        .into();
        self.spawn(
            "adapters",
            &format!("adapters-{n}"),
            &["--config", "ops/config/adapters.dev.toml"],
            env,
        )
    }

    /// A gateway on a free port and an adapters process, once the gateway is ready, with a
    /// steady load ([`crate::steady_load`]) of `make`'s messages from the Oslo school
    /// going into it until `stop`: the port, the two processes and the load.
    pub async fn start_under_load(
        &self,
        stop: &Arc<AtomicBool>,
        make: fn() -> Value,
    ) -> (u16, Process, Process, JoinHandle<BTreeSet<String>>) {
        let port = free_port();
        let gateway = self.gateway(port);
        let adapters = self.adapters(0);
        self.wait_ready(port).await;
        let load = crate::steady_load(
            self.h.http.clone(),
            format!("http://127.0.0.1:{port}/v1/messages"),
            self.h.token(crate::SCHOOL),
            stop.clone(),
            make,
        );
        (port, gateway, adapters, load)
    }

    /// Waits until the gateway on `port` is ready.
    pub async fn wait_ready(&self, port: u16) {
        let url = format!("http://127.0.0.1:{port}/readyz");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = self.h.http.get(&url).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the gateway on port {port} becomes ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A free local port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A process of the test, killed (`kill -9`: no shutdown of any kind) when dropped, also
/// when the test fails.
pub struct Process(Child);

impl Process {
    /// `kill -9`, and reaped.
    pub fn kill(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
