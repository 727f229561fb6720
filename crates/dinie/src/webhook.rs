//! Inbound webhooks: [`DinieWebhooks`] verifies Standard Webhooks v1 signatures and normalizes
//! events; [`DinieWebhookRegistration`] creates (or reuses) the gateway's endpoint at Dinie and
//! rotates its secret.
//!
//! Verification, per the Standard Webhooks specification: the signed content is the exact bytes
//! `{webhook-id}.{webhook-timestamp}.{body}`; the key is the secret without its `whsec_` prefix,
//! base64-decoded; HMAC-SHA256; `webhook-signature` is a space-separated list of `v1,<base64>`
//! whose any entry may match, compared in constant time. The timestamp must be within the
//! tolerance (300 s) of the injected clock, either side. Secrets come from the configuration
//! (endpoints registered by hand) and from the gateway's credential store (registrations and
//! rotations made through the gateway), the latter including a rotated-out secret until its
//! `previous_secret_expires_at`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use hmac::{Hmac, Mac};
use providers::webhook::{check_timestamp_window, constant_time_eq};
use providers::{
    CredentialStore, IdempotencyKey, InboundRequest, NormalizeError, NormalizedEvent,
    ProviderError, ProviderName, RegisteredWebhook, VerifyError, WebhookRegistration,
    WebhookSource,
};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::client::DinieClient;
use crate::model::{EndpointStatus, NewWebhookEndpoint, WebhookEndpoint, WebhookEndpointUpdate};
use crate::{NAME, events};

/// The grace given to the old secret when an existing endpoint is registered again (its secret
/// is rotated, since Dinie never returns a secret twice).
const REREGISTRATION_GRACE: Duration = Duration::from_secs(3600);

/// Decodes a `whsec_…` secret into its HMAC key; `None` when it is not base64.
pub(crate) fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD.decode(encoded).ok().filter(|key| !key.is_empty())
}

/// Whether any `v1` entry of `signature_header` is the HMAC of the signed content under `key`.
pub(crate) fn signature_matches(
    key: &[u8],
    webhook_id: &str,
    timestamp: &str,
    body: &[u8],
    signature_header: &str,
) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return false;
    };
    mac.update(webhook_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    signature_header
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, signature)| STANDARD.decode(signature).ok())
        .fold(false, |matched, presented| {
            constant_time_eq(&presented, &expected) | matched
        })
}

/// Dinie's inbound webhooks, served at `/webhooks/dinie`.
pub struct DinieWebhooks {
    configured: Vec<SecretString>,
    credentials: Arc<dyn CredentialStore>,
    tolerance: Duration,
}

impl DinieWebhooks {
    /// A source that accepts the `configured` secrets and those in `credentials`; fails when a
    /// configured secret is not a `whsec_` base64 secret.
    pub fn new(
        configured: Vec<SecretString>,
        credentials: Arc<dyn CredentialStore>,
        tolerance: Duration,
    ) -> Result<DinieWebhooks, String> {
        for (index, secret) in configured.iter().enumerate() {
            if decode_secret(secret.expose_secret()).is_none() {
                return Err(format!(
                    "webhook_secrets[{index}] is not a whsec_ base64 secret"
                ));
            }
        }
        Ok(DinieWebhooks {
            configured,
            credentials,
            tolerance,
        })
    }
}

fn header<'a>(request: &'a InboundRequest<'_>, name: &str) -> Result<&'a str, VerifyError> {
    let value = request
        .headers
        .get(name)
        .ok_or(VerifyError::MissingCredential)?;
    value
        .to_str()
        .map_err(|_| VerifyError::Malformed(format!("{name} is not visible ascii")))
}

#[async_trait]
impl WebhookSource for DinieWebhooks {
    fn provider(&self) -> ProviderName {
        NAME
    }

    fn authentication(&self) -> providers::WebhookAuthentication {
        providers::WebhookAuthentication::Signature
    }

    async fn verify(
        &self,
        request: &InboundRequest<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        let webhook_id = header(request, "webhook-id")?;
        let timestamp = header(request, "webhook-timestamp")?;
        let signature = header(request, "webhook-signature")?;
        let signed_at = timestamp
            .parse::<i64>()
            .ok()
            .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
            .ok_or_else(|| {
                VerifyError::Malformed("webhook-timestamp is not Unix seconds".to_owned())
            })?;
        check_timestamp_window(signed_at, now, self.tolerance)?;
        let stored = self
            .credentials
            .credentials(&NAME, "")
            .await
            .map_err(|error| VerifyError::Unavailable(error.to_string()))?;
        let keys = self
            .configured
            .iter()
            .map(|secret| secret.expose_secret().to_owned())
            .chain(
                stored
                    .iter()
                    .filter(|credential| credential.is_valid_at(now))
                    .map(|credential| credential.secret.expose_secret().to_owned()),
            )
            .filter_map(|secret| decode_secret(&secret));
        let mut matched = false;
        for key in keys {
            matched |= signature_matches(&key, webhook_id, timestamp, request.body, signature);
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
        events::normalize(&NAME, request)
    }
}

/// Registers the gateway's endpoint at Dinie and rotates its secret.
pub struct DinieWebhookRegistration {
    client: DinieClient,
}

impl DinieWebhookRegistration {
    /// Registration through `client`.
    pub fn new(client: DinieClient) -> DinieWebhookRegistration {
        DinieWebhookRegistration { client }
    }

    fn registered(
        endpoint: WebhookEndpoint,
        secret: providers::WebhookCredential,
        previous_secret_expires_at: Option<DateTime<Utc>>,
    ) -> RegisteredWebhook {
        RegisteredWebhook {
            registration_id: endpoint.id,
            path: String::new(),
            url: endpoint.url,
            event_types: endpoint.events,
            secret,
            attributes: BTreeMap::new(),
            previous_secret_expires_at,
        }
    }
}

#[async_trait]
impl WebhookRegistration for DinieWebhookRegistration {
    async fn register(
        &self,
        public_base_url: &str,
    ) -> Result<Vec<RegisteredWebhook>, ProviderError> {
        let url = format!("{}/webhooks/{NAME}", public_base_url.trim_end_matches('/'));
        let existing: Vec<WebhookEndpoint> = self
            .client
            .list_webhook_endpoints()
            .try_filter(|endpoint| futures::future::ready(endpoint.url == url))
            .try_collect()
            .await?;
        if let Some(endpoint) = existing.into_iter().next() {
            let endpoint = match endpoint.status {
                EndpointStatus::Active => endpoint,
                EndpointStatus::Disabled => {
                    let update = WebhookEndpointUpdate {
                        status: Some(EndpointStatus::Active),
                        ..WebhookEndpointUpdate::default()
                    };
                    self.client
                        .update_webhook_endpoint(&endpoint.id, &update)
                        .await?
                }
            };
            let key = IdempotencyKey::new_random();
            let rotated = self
                .client
                .rotate_webhook_secret(&endpoint.id, REREGISTRATION_GRACE, &key)
                .await?;
            tracing::info!(endpoint = %endpoint.id, "Dinie webhook endpoint already registered; secret rotated");
            return Ok(vec![DinieWebhookRegistration::registered(
                endpoint,
                rotated.secret,
                rotated.previous_secret_expires_at,
            )]);
        }
        let new = NewWebhookEndpoint {
            url: url.clone(),
            events: vec!["*".to_owned()],
            description: Some("paygate".to_owned()),
        };
        let key = IdempotencyKey::new_random();
        let created = self.client.create_webhook_endpoint(&new, &key).await?;
        tracing::info!(endpoint = %created.endpoint.id, "Dinie webhook endpoint registered");
        Ok(vec![DinieWebhookRegistration::registered(
            created.endpoint,
            created.secret,
            None,
        )])
    }

    async fn rotate(
        &self,
        registration_id: &str,
        grace: Duration,
    ) -> Result<RegisteredWebhook, ProviderError> {
        let key = IdempotencyKey::new_random();
        let rotated = self
            .client
            .rotate_webhook_secret(registration_id, grace, &key)
            .await?;
        let endpoint = self.client.get_webhook_endpoint(registration_id).await?;
        Ok(DinieWebhookRegistration::registered(
            endpoint,
            rotated.secret,
            rotated.previous_secret_expires_at,
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use async_trait::async_trait;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use chrono::{DateTime, TimeZone, Utc};
    use hmac::{Hmac, Mac};
    use http::{HeaderMap, HeaderValue};
    use providers::{
        CredentialStore, CredentialStoreError, InboundCredential, InboundRequest, ProviderName,
        VerifyError, WebhookSource,
    };
    use secrecy::SecretString;
    use sha2::Sha256;

    use crate::webhook::DinieWebhooks;

    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TIMESTAMP: i64 = 1_614_265_330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const OTHER_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

    /// A credential store holding fixed credentials, or failing.
    #[derive(Default)]
    struct Store {
        credentials: Mutex<Vec<InboundCredential>>,
        down: bool,
    }

    #[async_trait]
    impl CredentialStore for Store {
        async fn credentials(
            &self,
            _provider: &ProviderName,
            path: &str,
        ) -> Result<Vec<InboundCredential>, CredentialStoreError> {
            assert_eq!(path, "");
            if self.down {
                return Err(CredentialStoreError("connection refused".into()));
            }
            Ok(self.credentials.lock().unwrap().clone())
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).unwrap()
    }

    fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
        let key = STANDARD
            .decode(secret.trim_start_matches("whsec_"))
            .unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }

    fn headers(id: &str, timestamp: i64, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_str(id).unwrap());
        headers.insert(
            "webhook-timestamp",
            HeaderValue::from_str(&timestamp.to_string()).unwrap(),
        );
        headers.insert(
            "webhook-signature",
            HeaderValue::from_str(signature).unwrap(),
        );
        headers
    }

    fn source(configured: &[&str], store: Store) -> DinieWebhooks {
        DinieWebhooks::new(
            configured
                .iter()
                .map(|secret| SecretString::from((*secret).to_owned()))
                .collect(),
            Arc::new(store),
            Duration::from_secs(300),
        )
        .unwrap()
    }

    async fn check(
        source: &DinieWebhooks,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        let request = InboundRequest {
            path: "",
            headers,
            body,
        };
        source.verify(&request, now).await
    }

    #[tokio::test]
    async fn the_published_standard_webhooks_vector_verifies() {
        let source = source(&[VECTOR_SECRET], Store::default());
        let headers = headers(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_SIGNATURE);
        assert_eq!(
            check(&source, &headers, VECTOR_BODY, at(VECTOR_TIMESTAMP)).await,
            Ok(())
        );
        assert_eq!(
            sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY),
            VECTOR_SIGNATURE
        );
    }

    #[tokio::test]
    async fn missing_or_malformed_headers_are_rejected() {
        let source = source(&[VECTOR_SECRET], Store::default());
        let complete = headers(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_SIGNATURE);
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let mut headers = complete.clone();
            headers.remove(name);
            assert_eq!(
                check(&source, &headers, VECTOR_BODY, at(VECTOR_TIMESTAMP)).await,
                Err(VerifyError::MissingCredential),
                "{name}"
            );
        }
        let mut malformed = complete.clone();
        malformed.insert("webhook-timestamp", HeaderValue::from_static("yesterday"));
        assert!(matches!(
            check(&source, &malformed, VECTOR_BODY, at(VECTOR_TIMESTAMP)).await,
            Err(VerifyError::Malformed(_))
        ));
        for garbage in [
            "",
            "v1,",
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "v1 g0hM9Ss",
        ] {
            let headers = headers(VECTOR_ID, VECTOR_TIMESTAMP, garbage);
            assert_eq!(
                check(&source, &headers, VECTOR_BODY, at(VECTOR_TIMESTAMP)).await,
                Err(VerifyError::InvalidSignature),
                "{garbage}"
            );
        }
    }

    #[tokio::test]
    async fn during_a_rotation_a_dual_signature_verifies_with_either_secret() {
        let new = sign(OTHER_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY);
        let dual = format!("{new} {VECTOR_SIGNATURE}");
        let headers = headers(VECTOR_ID, VECTOR_TIMESTAMP, &dual);
        for secret in [VECTOR_SECRET, OTHER_SECRET] {
            let source = source(&[secret], Store::default());
            assert_eq!(
                check(&source, &headers, VECTOR_BODY, at(VECTOR_TIMESTAMP)).await,
                Ok(()),
                "{secret}"
            );
        }
    }

    #[test]
    fn a_configured_secret_that_is_not_base64_is_refused() {
        let result = DinieWebhooks::new(
            vec![SecretString::from("whsec_not base64!".to_owned())],
            Arc::new(Store::default()),
            Duration::from_secs(300),
        );
        assert!(result.is_err());
    }
}
