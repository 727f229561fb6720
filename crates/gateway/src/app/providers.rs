//! Provider administration: the Postgres-backed [`CredentialStore`], and registering or rotating the
//! gateway's webhook endpoints at providers.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use providers::{
    CredentialStore, CredentialStoreError, InboundCredential, ProviderError, ProviderName,
    RegisteredWebhook, WebhookRegistration,
};
use sqlx::PgPool;

use crate::crypto::Keyring;
use crate::store::credentials;

/// Credentials read from `provider_credential`, so a rotation made by any replica is seen by all;
/// secrets are decrypted with the keyring as they are read.
pub struct PgCredentialStore {
    pool: PgPool,
    keyring: Arc<Keyring>,
}

impl PgCredentialStore {
    /// A store over `pool`, decrypting with `keyring`.
    pub fn new(pool: PgPool, keyring: Arc<Keyring>) -> PgCredentialStore {
        PgCredentialStore { pool, keyring }
    }
}

#[async_trait]
impl CredentialStore for PgCredentialStore {
    async fn credentials(
        &self,
        provider: &ProviderName,
        path: &str,
    ) -> Result<Vec<InboundCredential>, CredentialStoreError> {
        let rows = credentials::for_path(&self.pool, provider, path)
            .await
            .map_err(|error| CredentialStoreError(error.to_string()))?;
        // A secret that does not decrypt (its key was removed from the configuration, or the row
        // was altered) makes the store unavailable rather than the webhook unauthenticated: the
        // provider retries instead of giving up on the endpoint.
        rows.iter()
            .map(|row| {
                row.to_inbound(&self.keyring).map_err(|error| {
                    CredentialStoreError(format!(
                        "credential of registration {}: {error}",
                        row.registration_id
                    ))
                })
            })
            .collect()
    }
}

/// Why a registration or rotation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationFailed {
    /// The provider refused or failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Storing the credential failed (the registration exists at the provider; registering again
    /// is safe and stores it).
    #[error("storing the credential failed: {0}")]
    Storage(#[from] sqlx::Error),
    /// No registration with that id.
    #[error("no webhook registration {0} for this provider")]
    UnknownRegistration(String),
}

/// Registers the gateway's endpoint(s) at the provider and stores each credential, encrypted with
/// `keyring`.
pub async fn register(
    pool: &PgPool,
    keyring: &Keyring,
    provider: &ProviderName,
    registration: &dyn WebhookRegistration,
    public_base_url: &str,
) -> Result<Vec<RegisteredWebhook>, RegistrationFailed> {
    let registered = registration.register(public_base_url).await?;
    let mut transaction = pool.begin().await?;
    for webhook in &registered {
        credentials::store(&mut transaction, keyring, provider, webhook).await?;
    }
    transaction.commit().await?;
    tracing::info!(provider = %provider, registrations = registered.len(), "webhook endpoints registered");
    Ok(registered)
}

/// Rotates the credential of `registration_id` (every current registration when `None`), keeping
/// the previous one valid for `grace`. New credentials are stored encrypted with `keyring`.
pub async fn rotate(
    pool: &PgPool,
    keyring: &Keyring,
    provider: &ProviderName,
    registration: &dyn WebhookRegistration,
    registration_id: Option<&str>,
    grace: Duration,
) -> Result<Vec<RegisteredWebhook>, RegistrationFailed> {
    let current = credentials::current(pool, provider).await?;
    let targets: Vec<String> = match registration_id {
        Some(id) => {
            if !current.iter().any(|row| row.registration_id == id) {
                return Err(RegistrationFailed::UnknownRegistration(id.to_owned()));
            }
            vec![id.to_owned()]
        }
        None => current
            .iter()
            .map(|row| row.registration_id.clone())
            .collect(),
    };
    let mut rotated = Vec::with_capacity(targets.len());
    for id in targets {
        let mut webhook = registration.rotate(&id, grace).await?;
        if webhook.previous_secret_expires_at.is_none() {
            webhook.previous_secret_expires_at =
                Some(chrono::Utc::now() + chrono::Duration::from_std(grace).unwrap_or_default());
        }
        let mut transaction = pool.begin().await?;
        credentials::store(&mut transaction, keyring, provider, &webhook).await?;
        transaction.commit().await?;
        rotated.push(webhook);
    }
    tracing::info!(provider = %provider, rotated = rotated.len(), "webhook credentials rotated");
    Ok(rotated)
}
