//! The integration's access to its accounts' queues over AMQP, as Fiks IO's AMQP service
//! grants it: user the integration's id, password the integration's password and a token
//! Fiks issued, space-separated (KS's Java client, `AmqpHandler`). The stand-in plays it on
//! the local broker through its management API: each token it issues becomes the user's
//! password (only the latest token opens a connection; connections already open stay), and
//! the user may read its sending accounts' queues and nothing else.

use uuid::Uuid;

/// The broker's management API, for the virtual host the answers go to.
pub struct Access {
    http: reqwest::Client,
    api: reqwest::Url,
    user: String,
    password: Option<String>,
    vhost: String,
    integration_id: Uuid,
    integration_password: String,
}

impl Access {
    /// Access for `integration_id` on the vhost of `broker_url`, managed at
    /// `management_url` (`http://user:password@host:15672`).
    pub fn new(
        management_url: &str,
        broker_url: &str,
        integration_id: Uuid,
        integration_password: String,
    ) -> anyhow::Result<Self> {
        let mut api = reqwest::Url::parse(management_url)?;
        let (user, password) = (api.username().to_owned(), api.password().map(str::to_owned));
        let _ = api.set_username("");
        let _ = api.set_password(None);
        let vhost = match reqwest::Url::parse(broker_url)?
            .path()
            .trim_start_matches('/')
        {
            "" => "%2F".to_owned(),
            encoded => encoded.to_owned(),
        };
        Ok(Self {
            http: reqwest::Client::new(),
            api,
            user,
            password,
            vhost,
            integration_id,
            integration_password,
        })
    }

    /// `method` on `path` of the API, with `body` as JSON if given, through `http`.
    async fn call(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<()> {
        let request = http
            .request(method, format!("{}api/{path}", self.api))
            .basic_auth(&self.user, self.password.as_deref());
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let status = request.send().await?.status();
        anyhow::ensure!(status.is_success(), "management API answered {status}");
        Ok(())
    }

    /// Makes `password` the integration user's only one.
    async fn set_password(&self, password: &str) -> anyhow::Result<()> {
        let body = serde_json::json!({ "password": password, "tags": "" });
        let path = format!("users/{}", self.integration_id);
        self.call(&self.http, reqwest::Method::PUT, &path, Some(body))
            .await
    }

    /// Lets the integration in with `token` (and no longer with any earlier one), to read
    /// the queues of `accounts`.
    pub async fn grant(&self, token: &str, accounts: &[Uuid]) -> anyhow::Result<()> {
        self.set_password(&format!("{} {token}", self.integration_password))
            .await?;
        let read = format!(
            "^fiksio\\.konto\\.({})$",
            accounts
                .iter()
                .map(Uuid::to_string)
                .collect::<Vec<_>>()
                .join("|")
        );
        let body = serde_json::json!({ "configure": "^$", "write": "^$", "read": read });
        let path = format!("permissions/{}/{}", self.vhost, self.integration_id);
        self.call(&self.http, reqwest::Method::PUT, &path, Some(body))
            .await
    }

    /// Lets no token in any more (connections already open stay).
    pub async fn revoke(&self) -> anyhow::Result<()> {
        self.set_password(&format!("revoked-{}", Uuid::new_v4().simple()))
            .await
    }

    /// Closes the integration's open connections, as a broker restart or a network fault
    /// would.
    pub async fn disconnect(&self) -> anyhow::Result<()> {
        let path = format!("connections/username/{}", self.integration_id);
        self.call(&self.http, reqwest::Method::DELETE, &path, None)
            .await
    }

    /// Removes the integration's user from the broker, with a client of its own (a drop runs
    /// it on a runtime of its own, where the shared client's connections cannot be used).
    pub async fn remove(&self) -> anyhow::Result<()> {
        let path = format!("users/{}", self.integration_id);
        self.call(
            &reqwest::Client::new(),
            reqwest::Method::DELETE,
            &path,
            None,
        )
        .await
    }
}
