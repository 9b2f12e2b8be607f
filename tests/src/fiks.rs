//! A Fiks IO stand-in (`ops/fiks-io`) for a test, and the dev directory pointed at it: the
//! Trondheim barnevern service receives on a fresh account of its own, from a fresh sending
//! account and integration, with a fresh business certificate for the Maskinporten grant.

use crate::{amqp_url, dev_directory_with, example, repo, temp_dir};
use fiks_io_standin::{Answer, Config, StandIn};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use uuid::Uuid;

/// The agency that receives over Fiks IO in the dev directory.
pub const FIKS_BARNEVERN: &str = "no-trondheim-barnevern";

/// A stand-in and the accounts of one test.
pub struct Fiks {
    pub standin: StandIn,
    /// The Trondheim service's account, and where its key is (PEM).
    pub receiver: Uuid,
    pub receiver_key: PathBuf,
    /// Our own account.
    pub sender: Uuid,
    dir: PathBuf,
    password_env: String,
    integration_id: Uuid,
}

impl Fiks {
    /// A stand-in whose Trondheim account answers as `answer` says, issuing tokens valid for
    /// `token_lifetime`.
    #[allow(unsafe_code)] // the integration password comes from the environment, as in production
    pub async fn start(answer: Answer, token_lifetime: Duration) -> Self {
        let dir = temp_dir();
        let integration_id = Uuid::new_v4();
        let password = format!("dev-only-{}", Uuid::new_v4().simple());
        let password_env = format!("FIKS_IO_PASSWORD_{}", Uuid::new_v4().simple());
        // SAFETY: a variable no other test reads, set before the adapters start.
        unsafe { std::env::set_var(&password_env, &password) };
        let listen = ([127, 0, 0, 1], 0).into();
        let config = Config {
            broker_url: amqp_url(),
            management_url: crate::management_url(),
            state: dir.join("fiks-io"),
            audience: "https://maskinporten.test.invalid/".into(),
            token_lifetime,
            integration_id,
            integration_password: password,
        };
        let standin = StandIn::start(listen, config).await.unwrap();
        let (receiver, sender) = (Uuid::new_v4(), Uuid::new_v4());
        let receiver_key = standin
            .add_account(receiver, Some("942110002"), answer)
            .unwrap();
        standin.add_sender(sender).await.unwrap();
        let (_, key, certificate) =
            fiks_io_standin::accounts::key_and_certificate("gateway.test.invalid").unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("business.key.pem"), key).unwrap();
        std::fs::write(dir.join("business.cert.pem"), certificate).unwrap();
        let fiks = Self {
            standin,
            receiver,
            receiver_key,
            sender,
            dir,
            password_env,
            integration_id,
        };
        fiks.write_directory(true);
        fiks
    }

    /// The dev directory, with the Trondheim service on this stand-in: its account named,
    /// or (`by_account` false) looked up in the catalogue by organisation number.
    fn write_directory(&self, by_account: bool) -> PathBuf {
        let text = std::fs::read_to_string(repo().join("ops/config/directory.dev.toml")).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("delivery = { transport = \"fiks_io\""))
            .expect("the dev directory has a service on Fiks IO")
            .to_owned();
        let url = self.standin.url();
        let recipient = if by_account {
            format!("account = \"{}\"", self.receiver)
        } else {
            "organisation_number = \"942110002\"".into()
        };
        let delivery = format!(
            r#"delivery = {{ transport = "fiks_io", api_url = "{url}", {recipient}, sender_account = "{}", amqp_url = "{}", integration_id = "{}", integration_password_env = "{}", credentials = {{ token_url = "{url}/token", client_id = "gateway", assertion = {{ audience = "https://maskinporten.test.invalid/", scope = "ks:fiks", certificate = "{}", key = "{}" }} }} }}"#,
            self.sender,
            crate::fiks_amqp_url(),
            self.integration_id,
            self.password_env,
            self.dir.join("business.cert.pem").display(),
            self.dir.join("business.key.pem").display(),
        );
        let directory = dev_directory_with(&self.dir, &[(&line, &delivery)]);
        let named = self.dir.join(if by_account {
            "by-account.toml"
        } else {
            "by-organisation.toml"
        });
        std::fs::rename(&directory, &named).unwrap();
        named
    }

    /// The directory naming the receiving account.
    pub fn directory(&self) -> PathBuf {
        self.dir.join("by-account.toml")
    }

    /// A directory in which the receiving account is looked up by organisation number.
    pub fn directory_by_organisation(&self) -> PathBuf {
        self.write_directory(false)
    }

    /// The queue of our account, and its dead letters.
    pub fn answers_queue(&self) -> String {
        format!("fiksio.konto.{}", self.sender)
    }

    /// Waits until the stand-in received `n` messages.
    pub async fn wait_received(&self, n: usize, limit: Duration) -> bool {
        let until = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < until {
            if self.standin.received().len() >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}

impl Drop for Fiks {
    /// Removes the test's files and our account's queues.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let answers = self.answers_queue();
        crate::delete_queues(vec![format!("{answers}.dead"), answers]);
    }
}

/// The example bekymringsmelding, about a child in Trondheim, to its barnevern service on
/// Fiks IO (a fresh message id).
pub fn fiks_bekymringsmelding() -> Value {
    let mut message = example("no.bekymringsmelding");
    message["recipient"] = FIKS_BARNEVERN.into();
    message["payload"]["kommunenummer"] = "5001".into();
    message["payload"]["kommunenavn"] = "Trondheim".into();
    message
}
