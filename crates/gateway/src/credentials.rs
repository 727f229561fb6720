//! Provider administration: the Postgres-backed [`CredentialStore`] (with a short-lived cache),
//! and registering or rotating the gateway's webhook endpoints at providers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use providers::{
    CredentialStore, CredentialStoreError, InboundCredential, ProviderError, ProviderName,
    RegisteredWebhook, WebhookRegistration,
};
use sqlx::PgPool;

use crate::crypto::Keyring;
use crate::store::credentials;

/// Credentials read from `provider_credential`, decrypted with the keyring as they are read, and
/// kept for `ttl` so that verifying a webhook costs no database round trip. Cheap to clone; clones
/// share the cache.
///
/// How a change made elsewhere (another replica, `paygate providers rotate`) is seen:
/// - a new credential at once: a webhook whose credential matches none of the cached ones is
///   checked again against freshly read credentials (see [`PgCredentialStore::forget`] and
///   `app::ingest`);
/// - a credential retired without grace within `ttl` (on this replica: at once, since
///   registering and rotating here forget the cache).
#[derive(Clone)]
pub struct PgCredentialStore {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    pool: PgPool,
    keyring: Arc<Keyring>,
    ttl: Duration,
    cache: Mutex<HashMap<(ProviderName, String), Cached>>,
    /// Held while reading the table on a miss, so a burst of misses reads it once.
    reading: tokio::sync::Mutex<()>,
}

struct Cached {
    read_at: Instant,
    credentials: Vec<InboundCredential>,
}

impl PgCredentialStore {
    /// A store over `pool`, decrypting with `keyring`, keeping what it read for `ttl` (zero: no
    /// cache).
    pub fn new(pool: PgPool, keyring: Arc<Keyring>, ttl: Duration) -> PgCredentialStore {
        PgCredentialStore {
            inner: Arc::new(StoreInner {
                pool,
                keyring,
                ttl,
                cache: Mutex::new(HashMap::new()),
                reading: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Drops what the cache holds for `provider`; true when it held something, i.e. when the next
    /// read may see credentials the last one did not.
    pub fn forget(&self, provider: &ProviderName) -> bool {
        let mut cache = self.cache();
        let before = cache.len();
        cache.retain(|(cached, _), _| cached != provider);
        cache.len() != before
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<(ProviderName, String), Cached>> {
        // The map is only ever left whole: a panic elsewhere cannot have broken it.
        self.inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn cached(&self, key: &(ProviderName, String)) -> Option<Vec<InboundCredential>> {
        self.cache()
            .get(key)
            .filter(|cached| cached.read_at.elapsed() < self.inner.ttl)
            .map(|cached| cached.credentials.clone())
    }

    async fn read(
        &self,
        provider: &ProviderName,
        path: &str,
    ) -> Result<Vec<InboundCredential>, CredentialStoreError> {
        let rows = credentials::for_path(&self.inner.pool, provider, path)
            .await
            .map_err(|error| CredentialStoreError(error.to_string()))?;
        // A secret that does not decrypt (its key was removed from the configuration, or the row
        // was altered) makes the store unavailable rather than the webhook unauthenticated: the
        // provider retries instead of giving up on the endpoint.
        rows.iter()
            .map(|row| {
                row.to_inbound(&self.inner.keyring).map_err(|error| {
                    CredentialStoreError(format!(
                        "credential of registration {}: {error}",
                        row.registration_id
                    ))
                })
            })
            .collect()
    }
}

#[async_trait]
impl CredentialStore for PgCredentialStore {
    async fn credentials(
        &self,
        provider: &ProviderName,
        path: &str,
    ) -> Result<Vec<InboundCredential>, CredentialStoreError> {
        let key = (provider.clone(), path.to_owned());
        if let Some(credentials) = self.cached(&key) {
            return Ok(credentials);
        }
        let _reading = self.inner.reading.lock().await;
        // Another request may have read them while this one waited.
        if let Some(credentials) = self.cached(&key) {
            return Ok(credentials);
        }
        let read_at = Instant::now();
        let credentials = self.read(provider, path).await?;
        if !self.inner.ttl.is_zero() {
            self.cache().insert(
                key,
                Cached {
                    read_at,
                    credentials: credentials.clone(),
                },
            );
        }
        Ok(credentials)
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
/// the store's keyring.
pub async fn register(
    store: &PgCredentialStore,
    provider: &ProviderName,
    registration: &dyn WebhookRegistration,
    public_base_url: &str,
) -> Result<Vec<RegisteredWebhook>, RegistrationFailed> {
    let registered = registration.register(public_base_url).await?;
    let mut transaction = store.inner.pool.begin().await?;
    for webhook in &registered {
        credentials::store(&mut transaction, &store.inner.keyring, provider, webhook).await?;
    }
    transaction.commit().await?;
    store.forget(provider);
    tracing::info!(provider = %provider, registrations = registered.len(), "webhook endpoints registered");
    Ok(registered)
}

/// Rotates the credential of `registration_id` (every current registration when `None`), keeping
/// the previous one valid for `grace`. New credentials are stored encrypted with the store's keyring.
pub async fn rotate(
    store: &PgCredentialStore,
    provider: &ProviderName,
    registration: &dyn WebhookRegistration,
    registration_id: Option<&str>,
    grace: Duration,
) -> Result<Vec<RegisteredWebhook>, RegistrationFailed> {
    let current = credentials::current(&store.inner.pool, provider).await?;
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
        let mut transaction = store.inner.pool.begin().await?;
        credentials::store(&mut transaction, &store.inner.keyring, provider, &webhook).await?;
        transaction.commit().await?;
        store.forget(provider);
        rotated.push(webhook);
    }
    tracing::info!(provider = %provider, rotated = rotated.len(), "webhook credentials rotated");
    Ok(rotated)
}
