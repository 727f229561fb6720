//! The API Pix's callbacks: authentication ([`BacenPixWebhooks::verify`]), normalization
//! ([`BacenPixWebhooks::normalize`], in `events`) and self-registration ([`Registrar`]).
//!
//! # A token in the URL
//! The spec authenticates the PSP's callback by mTLS at the receiver, which the gateway may not
//! terminate. So the gateway registers `{public_base_url}/webhooks/bacen-pix/{token}` (a random
//! 32-byte URL-safe token) with `PUT /webhook/{chave}`; the PSP posts to `{webhookUrl}/pix`, so a
//! callback reaches the source with `path == "/{token}/pix"`. [`BacenPixWebhooks::verify`] takes
//! the token and compares it in constant time with the configured `webhook_tokens` (webhooks
//! registered by hand) and the credentials stored at path `""` still valid now (a rotated-out
//! token stays valid until its `not_after`). A token is a static credential
//! ([`WebhookAuthentication::Credential`]): money-moving events are confirmed by fetch
//! (`confirm`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use providers::webhook::constant_time_eq;
use providers::{
    CredentialStore, Document, InboundRequest, NormalizeError, NormalizedEvent, ProviderError,
    ProviderName, RegisteredWebhook, VerifyError, WebhookAuthentication, WebhookCredential,
    WebhookRegistration, WebhookSource,
};
use secrecy::{ExposeSecret, SecretString};

use crate::client::Client;
use crate::{PROVIDER, PROVIDER_NAME, events};

/// The path the gateway's credentials are stored under (one URL per key, no sub-path).
pub const CREDENTIAL_PATH: &str = "";

/// How long the previous token stays valid when `register` replaces a registration.
const REREGISTRATION_GRACE: Duration = Duration::from_secs(600);

/// The webhook source served at `/webhooks/bacen-pix/{token}[/pix]`.
pub struct BacenPixWebhooks {
    configured: Vec<SecretString>,
    credentials: Arc<dyn CredentialStore>,
    payee: Document,
}

impl BacenPixWebhooks {
    /// A source accepting the tokens `configured` (hand-made registrations) and those in
    /// `credentials`; `payee` is the account holder, the payee of every Pix received.
    pub fn new(
        configured: Vec<SecretString>,
        credentials: Arc<dyn CredentialStore>,
        payee: Document,
    ) -> BacenPixWebhooks {
        BacenPixWebhooks {
            configured,
            credentials,
            payee,
        }
    }
}

/// The token of a callback path: `/{token}/pix` or `/{token}`. `Ok(None)` when the path has none.
pub fn token_of_path(path: &str) -> Result<Option<&str>, VerifyError> {
    let trimmed = path.trim_start_matches('/');
    let (segment, rest) = match trimmed.split_once('/') {
        Some((segment, rest)) => (segment, rest.trim_end_matches('/')),
        None => (trimmed, ""),
    };
    // The first segment is matched against public words only (the callback's own `/pix`), never
    // compared with a secret: that is done in constant time by `verify`.
    match (segment, rest) {
        ("", _) | ("pix", "") => Ok(None),
        (segment, "" | "pix") => Ok(Some(segment)),
        _ => Err(VerifyError::UnknownRegistration(path.to_owned())),
    }
}

#[async_trait]
impl WebhookSource for BacenPixWebhooks {
    fn provider(&self) -> ProviderName {
        PROVIDER
    }

    fn authentication(&self) -> WebhookAuthentication {
        WebhookAuthentication::Credential
    }

    async fn verify(
        &self,
        request: &InboundRequest<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        let Some(token) = token_of_path(request.path)? else {
            return Err(VerifyError::MissingCredential);
        };
        let mut matched = false;
        for configured in &self.configured {
            matched |= constant_time_eq(token.as_bytes(), configured.expose_secret().as_bytes());
        }
        if matched {
            return Ok(());
        }
        let stored = self
            .credentials
            .credentials(&PROVIDER, CREDENTIAL_PATH)
            .await
            .map_err(|error| VerifyError::Unavailable(error.0))?;
        for credential in stored
            .iter()
            .filter(|credential| credential.is_valid_at(now))
        {
            matched |= constant_time_eq(
                token.as_bytes(),
                credential.secret.expose_secret().as_bytes(),
            );
        }
        match matched {
            true => Ok(()),
            false => Err(VerifyError::InvalidSignature),
        }
    }

    fn normalize(
        &self,
        request: &InboundRequest<'_>,
    ) -> Result<Vec<NormalizedEvent>, NormalizeError> {
        events::normalize_body(request.body, &self.payee)
    }
}

// ---------------------------------------------------------------------------------------------
// Self-registration.

/// Registers and rotates the gateway's webhook on the receiver's key.
pub struct Registrar {
    client: Client,
}

impl Registrar {
    /// Registrations through `client`, on its receiver key.
    pub fn new(client: Client) -> Registrar {
        Registrar { client }
    }
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `{base}/webhooks/bacen-pix/`.
fn url_prefix(public_base_url: &str) -> String {
    format!(
        "{}/webhooks/{PROVIDER_NAME}/",
        public_base_url.trim_end_matches('/')
    )
}

fn registered(
    client: &Client,
    url: String,
    token: String,
    previous_expires: Option<DateTime<Utc>>,
) -> RegisteredWebhook {
    RegisteredWebhook {
        registration_id: client.receiver().to_owned(),
        path: CREDENTIAL_PATH.to_owned(),
        url,
        event_types: vec!["pix".to_owned()],
        secret: WebhookCredential::new(token),
        attributes: BTreeMap::new(),
        previous_secret_expires_at: previous_expires,
    }
}

fn grace_end(grace: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(grace).unwrap_or_else(|_| chrono::Duration::zero())
}

#[async_trait]
impl WebhookRegistration for Registrar {
    async fn register(
        &self,
        public_base_url: &str,
    ) -> Result<Vec<RegisteredWebhook>, ProviderError> {
        let prefix = url_prefix(public_base_url);
        let existing = self.client.get_webhook(self.client.receiver()).await?;
        let token = random_token();
        let url = format!("{prefix}{token}");
        self.client.put_webhook(&url).await?;
        let previous = existing
            .filter(|existing| existing.starts_with(&prefix))
            .map(|_| grace_end(REREGISTRATION_GRACE));
        Ok(vec![registered(&self.client, url, token, previous)])
    }

    async fn rotate(
        &self,
        registration_id: &str,
        grace: Duration,
    ) -> Result<RegisteredWebhook, ProviderError> {
        if registration_id != self.client.receiver() {
            return Err(ProviderError::NotFound {
                resource: "webhook".to_owned(),
                code: None,
            });
        }
        let current = self
            .client
            .get_webhook(registration_id)
            .await?
            .ok_or_else(|| ProviderError::NotFound {
                resource: "webhook".to_owned(),
                code: Some("NaoEncontrado".to_owned()),
            })?;
        let marker = format!("/webhooks/{PROVIDER_NAME}/");
        let start = current
            .find(&marker)
            .ok_or_else(|| ProviderError::InvalidResponse {
                message: "the registered webhook url has no /webhooks/bacen-pix/ path".to_owned(),
            })?;
        let prefix = format!("{}{marker}", current.get(..start).unwrap_or_default());
        let token = random_token();
        let url = format!("{prefix}{token}");
        self.client.put_webhook(&url).await?;
        Ok(registered(&self.client, url, token, Some(grace_end(grace))))
    }
}
