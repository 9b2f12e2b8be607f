//! Requests to the gateway's API, as its clients make them.

use crate::{
    FakeInbox, Harness, POLICE_INBOX, SCHOOL, gateway_id, police_consent, police_referral,
};
use gateway::authenticate::Claims;
use serde_json::Value;
use std::time::Duration;

impl Harness {
    /// Valid claims for `org`.
    pub fn claims(&self, org: &str) -> Claims {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        Claims {
            iss: self.config.auth.issuer.clone(),
            aud: self.config.auth.audience.clone(),
            sub: format!("tester@{org}"),
            exp: now + 600,
            nbf: now - 5,
            iat: now - 5,
            org: org.into(),
            scope: None,
        }
    }

    /// A token signed by the gateway's trusted key.
    pub fn sign(&self, claims: &Claims) -> String {
        self.key.sign(claims).unwrap()
    }

    /// A token signed by the gateway's trusted key under a header `edit` changes.
    pub fn sign_with(
        &self,
        claims: &Claims,
        edit: impl FnOnce(&mut jsonwebtoken::Header),
    ) -> String {
        self.key.sign_with(claims, edit).unwrap()
    }

    /// The JWKS of the key that signs this harness's tokens.
    pub fn jwks(&self) -> Value {
        self.key.jwks()
    }

    /// A valid token for `org`.
    pub fn token(&self, org: &str) -> String {
        self.sign(&self.claims(org))
    }

    /// A valid token of an operator (the operator scope; any organisation of the directory).
    pub fn operator_token(&self) -> String {
        let mut claims = self.claims(SCHOOL);
        claims.scope = Some(self.config.auth.operator_scope.clone());
        self.sign(&claims)
    }

    /// GETs `path` of the API (with a bearer token, if given).
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// As the school: records the consent `consent_id`, sends the police referral under it,
    /// and waits until `inbox` has received it; the referral.
    pub async fn referral_received(&self, consent_id: &str, inbox: &FakeInbox) -> Value {
        let token = self.token(SCHOOL);
        let consent = police_consent(consent_id);
        let recorded = self.post_to("/v1/consents", &token, &consent).await;
        assert_eq!(recorded.status(), 201);
        let message = police_referral(consent_id);
        assert_eq!(self.post(&token, &message).await.status(), 202);
        let id = gateway_id(SCHOOL, &message);
        assert!(
            inbox
                .wait_for(POLICE_INBOX, &id, Duration::from_secs(20))
                .await,
            "the inbox received the referral"
        );
        message
    }

    /// POSTs `body` as JSON to `/v1/messages`.
    pub async fn post(&self, token: &str, body: &Value) -> reqwest::Response {
        self.post_to("/v1/messages", token, body).await
    }

    /// POSTs `body` as JSON to `path` of the API.
    pub async fn post_to(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base()))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Waits up to `limit` until message `id` has `status`; returns its last status view.
    pub async fn wait_status(&self, token: &str, id: &str, status: &str, limit: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let view: Value = self.status(token, id).await.json().await.unwrap();
            if view["status"] == status || tokio::time::Instant::now() > deadline {
                return view;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// enters the history without changing the status); returns its last status view.
    pub async fn wait_history(
        &self,
        token: &str,
        id: &str,
        status: &str,
        limit: Duration,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let view: Value = self.status(token, id).await.json().await.unwrap();
            let has = view["history"]
                .as_array()
                .is_some_and(|h| h.iter().any(|e| e["status"] == status));
            if has || tokio::time::Instant::now() > deadline {
                return view;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The status view of the school's `message`, as the school reads it.
    pub async fn school_view(&self, message: &Value) -> Value {
        let id = message["messageId"].as_str().unwrap();
        self.status(&self.token(SCHOOL), id)
            .await
            .json()
            .await
            .unwrap()
    }

    /// GETs the status of message `id`.
    pub async fn status(&self, token: &str, id: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/v1/messages/{id}", self.base()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}
