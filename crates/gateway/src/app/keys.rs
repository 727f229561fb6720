//! API keys: `pgk_` + 43 characters of base64url (256 random bits). Only the SHA-256 is stored; the
//! key itself is shown once, at creation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use providers::ApiKeyId;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::http::auth::{Caller, Scope};
use crate::http::error::ApiError;
use crate::store::api_keys::{self, ApiKeyRecord};

/// The prefix every key starts with, so leaked keys are recognisable by secret scanners.
pub const KEY_PREFIX: &str = "pgk_";

/// A key just created: the record and the key itself (to show once).
#[derive(Debug)]
pub struct CreatedKey {
    /// The stored record.
    pub record: ApiKeyRecord,
    /// The key; never stored, never logged.
    pub key: SecretString,
}

/// Why a key cannot be created.
#[derive(Debug, thiserror::Error)]
pub enum NewKeyError {
    /// Empty or too long a name.
    #[error("name must be 1 to 100 characters")]
    InvalidName,
    /// No scope given.
    #[error("at least one scope is required")]
    NoScopes,
    /// The database failed.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

/// Creates a key named `name` with `scopes`.
pub async fn create(
    pool: &PgPool,
    name: &str,
    scopes: &[Scope],
) -> Result<CreatedKey, NewKeyError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(NewKeyError::InvalidName);
    }
    if scopes.is_empty() {
        return Err(NewKeyError::NoScopes);
    }
    let mut random = [0u8; 32];
    rand::rng().fill_bytes(&mut random);
    let key = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
    let mut scope_names: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
    scope_names.sort();
    scope_names.dedup();
    let record = api_keys::insert(
        pool,
        ApiKeyId::new(),
        name,
        &hash(&key),
        &key[..12],
        &scope_names,
    )
    .await?;
    Ok(CreatedKey {
        record,
        key: SecretString::from(key),
    })
}

/// Resolves a presented key to its caller: 401 when unknown or revoked.
pub async fn authenticate(pool: &PgPool, presented: &str) -> Result<Caller, ApiError> {
    if !presented.starts_with(KEY_PREFIX) {
        return Err(ApiError::ApiKeyInvalid);
    }
    let record = api_keys::find_by_hash(pool, &hash(presented))
        .await?
        .ok_or(ApiError::ApiKeyInvalid)?;
    if record.revoked_at.is_some() {
        return Err(ApiError::ApiKeyRevoked);
    }
    Ok(caller_of(&record))
}

/// The caller a record stands for; scopes unknown to this version are ignored.
pub fn caller_of(record: &ApiKeyRecord) -> Caller {
    Caller {
        api_key_id: record.id(),
        name: record.name.clone(),
        scopes: record
            .scopes
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect(),
    }
}

/// SHA-256 of the key. Lookup is by this hash, so comparing is the database's equality on a
/// digest of a 256-bit secret: timing reveals nothing usable about the key.
fn hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// The key as text, for the one place that shows it (CLI output, creation response).
pub fn reveal(created: &CreatedKey) -> &str {
    created.key.expose_secret()
}
