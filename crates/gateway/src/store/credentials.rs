//! Inbound webhook credentials created by registrations and rotations at providers. The `secret`
//! column holds the credential encrypted with the keyring (`enc:v1:...`, see `crate::crypto`),
//! never the plaintext.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use providers::{InboundCredential, ProviderName, RegisteredWebhook, WebhookCredential};
use secrecy::ExposeSecret;
use sqlx::{FromRow, PgConnection, PgPool};

use crate::crypto::{CryptoError, Keyring};

/// A stored credential row (the secret as stored, encrypted).
#[derive(Debug, Clone, FromRow)]
pub struct CredentialRow {
    /// The provider's id for the registration.
    pub registration_id: String,
    /// Path after `/webhooks/{provider}`.
    pub path: String,
    /// URL registered at the provider.
    pub url: String,
    /// Provider event types sent there.
    pub event_types: Vec<String>,
    /// The secret, encrypted (`enc:v1:<key_id>:...`).
    pub secret: String,
    /// Non-secret facts.
    pub attributes: serde_json::Value,
    /// End of validity, for a credential rotated out.
    pub not_after: Option<DateTime<Utc>>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

impl CredentialRow {
    /// As the verifier sees it, the secret decrypted with `keyring`.
    pub fn to_inbound(&self, keyring: &Keyring) -> Result<InboundCredential, CryptoError> {
        let secret = keyring.decrypt(&self.secret)?;
        let attributes: BTreeMap<String, String> = match &self.attributes {
            serde_json::Value::Object(map) => map
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect(),
            _ => BTreeMap::new(),
        };
        Ok(InboundCredential {
            secret: WebhookCredential::new(secret.expose_secret()),
            not_after: self.not_after,
            attributes,
        })
    }
}

const COLUMNS: &str =
    "registration_id, path, url, event_types, secret, attributes, not_after, created_at";

/// Stores the credential of a (new or rotated) registration, its secret encrypted with `keyring`'s
/// active key. Any current credential of the same path gets `not_after = previous_valid_until`
/// (now, when `None`): it is being rotated out.
pub async fn store(
    connection: &mut PgConnection,
    keyring: &Keyring,
    provider: &ProviderName,
    registered: &RegisteredWebhook,
) -> Result<(), sqlx::Error> {
    // Encrypt first: nothing is written when it fails (it cannot for a secret of sane size).
    let sealed = keyring
        .encrypt(registered.secret.expose_secret())
        .map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
    sqlx::query(
        "update provider_credential set not_after = coalesce($3, now())
         where provider = $1 and path = $2 and not_after is null",
    )
    .bind(provider.as_str())
    .bind(&registered.path)
    .bind(registered.previous_secret_expires_at)
    .execute(&mut *connection)
    .await?;
    let attributes: serde_json::Map<String, serde_json::Value> = registered
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    sqlx::query(
        "insert into provider_credential
            (provider_credential_id, provider, path, registration_id, url, event_types, secret, attributes)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(provider.as_str())
    .bind(&registered.path)
    .bind(&registered.registration_id)
    .bind(&registered.url)
    .bind(&registered.event_types)
    .bind(&sealed)
    .bind(serde_json::Value::Object(attributes))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Credentials of one path, newest first, expired ones excluded.
pub async fn for_path(
    pool: &PgPool,
    provider: &ProviderName,
    path: &str,
) -> Result<Vec<CredentialRow>, sqlx::Error> {
    let query = format!(
        "select {COLUMNS} from provider_credential
         where provider = $1 and path = $2 and (not_after is null or not_after > now())
         order by created_at desc"
    );
    sqlx::query_as(&query)
        .bind(provider.as_str())
        .bind(path)
        .fetch_all(pool)
        .await
}

/// Current registrations of a provider (one row per path), oldest first.
pub async fn current(
    pool: &PgPool,
    provider: &ProviderName,
) -> Result<Vec<CredentialRow>, sqlx::Error> {
    let query = format!(
        "select {COLUMNS} from provider_credential
         where provider = $1 and not_after is null
         order by created_at"
    );
    sqlx::query_as(&query)
        .bind(provider.as_str())
        .fetch_all(pool)
        .await
}
