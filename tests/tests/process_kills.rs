//! `kill -9` of the real processes mid-load: the gateway and the adapters run as their own
//! binaries (as `ops/run` starts them), a steady load of bekymringsmeldinger goes in, and the
//! gateway, then the adapters, then both are killed without warning and started again, and
//! the broker is restarted shortly after. Every message the gateway accepted reaches
//! barnevern's receiving queue; a copy twice only in the documented lost-confirm window.
//!
//! This binary restarts the shared local broker, so it holds a single test.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tests::{Harness, OSLO_INBOX, SCHOOL};

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

/// The processes, configured by environment overrides onto the harness's names and files.
struct Processes<'h> {
    h: &'h Harness,
    port: u16,
    log: PathBuf,
}

impl Processes<'_> {
    fn spawn(&self, name: &str, args: &[&str], env: &[(String, String)]) -> Process {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log.join(format!("{name}.log")))
            .unwrap();
        let child = Command::new(binary(name))
            .args(args)
            .envs(env.iter().cloned())
            .env("RUST_LOG", "warn,gateway=info,adapters=info")
            .current_dir(tests::repo())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        Process(child)
    }

    fn gateway(&self) -> Process {
        let c = &self.h.config;
        let env = [
            ("HTTP__LISTEN", format!("127.0.0.1:{}", self.port)),
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
            ("OUTBOX__INTERVAL_MS", "200".into()),
        ]
        .map(|(k, v)| (format!("GATEWAY__{k}"), v));
        self.spawn(
            "gateway",
            &["--config", "ops/config/gateway.dev.toml", "serve"],
            &env,
        )
    }

    fn adapters(&self) -> Process {
        let env = [
            ("BROKER__PREFIX", self.h.config.broker.prefix.clone()),
            (
                "RUNTIME__LEDGER",
                self.h.dir.join("ledger.sqlite").display().to_string(),
            ),
            ("HTTP__LISTEN", "127.0.0.1:0".into()),
            // A claim left by a killed process runs out in seconds, not a minute.
            ("RUNTIME__INBOX_TIMEOUT_MS", "2000".into()),
            ("RUNTIME__CLAIM_LEASE_SECS", "10".into()),
        ]
        .map(|(k, v)| (format!("ADAPTERS__{k}"), v));
        self.spawn(
            "adapters",
            &["--config", "ops/config/adapters.dev.toml"],
            &env,
        )
    }

    async fn wait_ready(&self) {
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = self.h.http.get(&url).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the gateway becomes ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A process of the test, killed (`kill -9`: no shutdown of any kind) when dropped, also
/// when the test fails.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn kill(process: &mut Process) {
    process.0.kill().unwrap();
    process.0.wait().unwrap();
}

#[tokio::test]
async fn killing_the_gateway_and_the_adapters_mid_load_loses_nothing_accepted() {
    let mut h = Harness::new().await;
    h.stop_gateway().await; // the harness keeps its names, key and database for the processes
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = Processes {
        h: &h,
        port,
        log: h.dir.clone(),
    };
    let mut gateway = p.gateway();
    let mut adapters = p.adapters();
    p.wait_ready().await;

    let stop = Arc::new(AtomicBool::new(false));
    let load = tests::steady_load(
        h.http.clone(),
        format!("http://127.0.0.1:{port}/v1/messages"),
        h.token(SCHOOL),
        stop.clone(),
    );

    for _ in 0..tests::fault_rounds() {
        tokio::time::sleep(Duration::from_secs(3)).await;
        kill(&mut gateway);
        gateway = p.gateway();
        p.wait_ready().await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        kill(&mut adapters);
        adapters = p.adapters();
        tokio::time::sleep(Duration::from_secs(3)).await;
        kill(&mut gateway);
        kill(&mut adapters);
        gateway = p.gateway();
        adapters = p.adapters();
        p.wait_ready().await;
        // A broker restart shortly after the processes restarted: both reconnect.
        tokio::time::sleep(Duration::from_secs(1)).await;
        tests::broker_stop().await;
        tests::broker_start().await;
        p.wait_ready().await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let expected = load.await.unwrap();
    assert!(expected.len() > 50, "the load ran: {}", expected.len());

    let inbox = h.topology().receiving_queue(OSLO_INBOX);
    h.arrived(&inbox, &expected, "kill -9 under load").await;
    kill(&mut gateway);
    kill(&mut adapters);
    h.cleanup().await;
}
