//! API keys and scopes: `pgk_` + 43 characters of base64url (256 random bits). Only the SHA-256 is stored; the
//! key itself is shown once, at creation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use providers::ApiKeyId;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

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

/// What an API key may do. A key holds a set of scopes; `admin` implies every other one.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub enum Scope {
    /// Everything.
    #[serde(rename = "admin")]
    Admin,
    /// Read events.
    #[serde(rename = "events:read")]
    EventsRead,
    /// Manage API keys.
    #[serde(rename = "keys:write")]
    KeysWrite,
    /// See unmasked personal data (documents, raw provider payloads).
    #[serde(rename = "pii")]
    Pii,
    /// Read customers, credit offers, simulations and loans.
    #[serde(rename = "credit:read")]
    CreditRead,
    /// Create customers, upload KYC documents, simulate, take loans.
    #[serde(rename = "credit:write")]
    CreditWrite,
    /// Read accounts, balances, charges, Pix transfers and keys.
    #[serde(rename = "banking:read")]
    BankingRead,
    /// Open accounts, create charges, send and refund Pix, manage Pix keys.
    #[serde(rename = "banking:write")]
    BankingWrite,
    /// Register and rotate the gateway's webhook endpoints at providers.
    #[serde(rename = "providers:write")]
    ProvidersWrite,
    /// Read subscriptions, deliveries and replays.
    #[serde(rename = "subscriptions:read")]
    SubscriptionsRead,
    /// Manage subscriptions, retry deliveries, start replays.
    #[serde(rename = "subscriptions:write")]
    SubscriptionsWrite,
    /// Read reconciliation items, summaries and reports.
    #[serde(rename = "reconciliation:read")]
    ReconciliationRead,
    /// Resolve reconciliation items and start batch runs.
    #[serde(rename = "reconciliation:write")]
    ReconciliationWrite,
}

impl Scope {
    /// Every scope, for help texts and validation.
    pub const ALL: [Scope; 13] = [
        Scope::Admin,
        Scope::EventsRead,
        Scope::KeysWrite,
        Scope::Pii,
        Scope::CreditRead,
        Scope::CreditWrite,
        Scope::BankingRead,
        Scope::BankingWrite,
        Scope::ProvidersWrite,
        Scope::SubscriptionsRead,
        Scope::SubscriptionsWrite,
        Scope::ReconciliationRead,
        Scope::ReconciliationWrite,
    ];

    /// The string form stored and shown.
    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::EventsRead => "events:read",
            Scope::KeysWrite => "keys:write",
            Scope::Pii => "pii",
            Scope::CreditRead => "credit:read",
            Scope::CreditWrite => "credit:write",
            Scope::BankingRead => "banking:read",
            Scope::BankingWrite => "banking:write",
            Scope::ProvidersWrite => "providers:write",
            Scope::SubscriptionsRead => "subscriptions:read",
            Scope::SubscriptionsWrite => "subscriptions:write",
            Scope::ReconciliationRead => "reconciliation:read",
            Scope::ReconciliationWrite => "reconciliation:write",
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = String;

    fn from_str(input: &str) -> Result<Scope, String> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == input)
            .ok_or_else(|| {
                let known: Vec<&str> = Scope::ALL.iter().map(Scope::as_str).collect();
                format!(
                    "unknown scope `{input}`; expected one of {}",
                    known.join(", ")
                )
            })
    }
}

/// The authenticated caller (the HTTP layer puts it in request extensions).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's id.
    pub api_key_id: ApiKeyId,
    /// The key's name (shown in audit trails).
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<Scope>,
}

impl Caller {
    /// Whether the key holds `scope` (or `admin`).
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes
            .iter()
            .any(|held| *held == scope || *held == Scope::Admin)
    }

    /// `Ok` when the key holds `scope`, else [`MissingScope`] (a 403 at the HTTP edge).
    pub fn require(&self, scope: Scope) -> Result<(), MissingScope> {
        if self.has(scope) {
            return Ok(());
        }
        Err(MissingScope {
            scope: scope.as_str(),
        })
    }
}

/// A caller lacks a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this API key lacks the `{scope}` scope")]
pub struct MissingScope {
    /// The scope required.
    pub scope: &'static str,
}

/// Why a presented key does not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Not a key, or no key with that hash.
    #[error("unknown API key")]
    Invalid,
    /// The key was revoked.
    #[error("revoked API key")]
    Revoked,
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
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
pub async fn authenticate(pool: &PgPool, presented: &str) -> Result<Caller, AuthError> {
    if !presented.starts_with(KEY_PREFIX) {
        return Err(AuthError::Invalid);
    }
    let record = api_keys::find_by_hash(pool, &hash(presented))
        .await?
        .ok_or(AuthError::Invalid)?;
    if record.revoked_at.is_some() {
        return Err(AuthError::Revoked);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_round_trips_through_its_string_form_and_serde() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
            assert_eq!(serde_json::to_value(scope).unwrap(), scope.as_str());
        }
        let names: std::collections::HashSet<&str> = Scope::ALL.iter().map(Scope::as_str).collect();
        assert_eq!(names.len(), Scope::ALL.len());
    }
}
