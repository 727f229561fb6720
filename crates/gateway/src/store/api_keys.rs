//! API keys: only their SHA-256 is stored.

use chrono::{DateTime, Utc};
use providers::ApiKeyId;
use sqlx::{FromRow, PgPool};

/// An API key row (never the key itself).
#[derive(Debug, Clone, FromRow)]
pub struct ApiKeyRecord {
    /// Uuid of the `key_` id.
    pub api_key_id: uuid::Uuid,
    /// Who or what uses it; shown in audit trails.
    pub name: String,
    /// The first characters of the key, to recognise it in lists.
    pub key_prefix: String,
    /// Granted scopes, as their string forms.
    pub scopes: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKeyRecord {
    /// The typed id.
    pub fn id(&self) -> ApiKeyId {
        ApiKeyId::from_uuid(self.api_key_id)
    }
}

const COLUMNS: &str = "api_key_id, name, key_prefix, scopes, created_at, revoked_at";

/// Stores a new key's hash.
pub async fn insert(
    pool: &PgPool,
    id: ApiKeyId,
    name: &str,
    key_hash: &[u8],
    key_prefix: &str,
    scopes: &[String],
) -> Result<ApiKeyRecord, sqlx::Error> {
    let query = format!(
        "insert into api_key (api_key_id, name, key_hash, key_prefix, scopes)
         values ($1, $2, $3, $4, $5) returning {COLUMNS}"
    );
    sqlx::query_as(&query)
        .bind(id.uuid())
        .bind(name)
        .bind(key_hash)
        .bind(key_prefix)
        .bind(scopes)
        .fetch_one(pool)
        .await
}

/// The key whose hash this is, revoked or not.
pub async fn find_by_hash(
    pool: &PgPool,
    key_hash: &[u8],
) -> Result<Option<ApiKeyRecord>, sqlx::Error> {
    let query = format!("select {COLUMNS} from api_key where key_hash = $1");
    sqlx::query_as(&query)
        .bind(key_hash)
        .fetch_optional(pool)
        .await
}

/// One key by id.
pub async fn get(pool: &PgPool, id: ApiKeyId) -> Result<Option<ApiKeyRecord>, sqlx::Error> {
    let query = format!("select {COLUMNS} from api_key where api_key_id = $1");
    sqlx::query_as(&query)
        .bind(id.uuid())
        .fetch_optional(pool)
        .await
}

/// All keys, newest first.
pub async fn list(pool: &PgPool) -> Result<Vec<ApiKeyRecord>, sqlx::Error> {
    let query = format!("select {COLUMNS} from api_key order by api_key_id desc");
    sqlx::query_as(&query).fetch_all(pool).await
}

/// Revokes a key; revoking twice keeps the first time. `None` when no such key exists.
pub async fn revoke(pool: &PgPool, id: ApiKeyId) -> Result<Option<ApiKeyRecord>, sqlx::Error> {
    let query = format!(
        "update api_key set revoked_at = coalesce(revoked_at, now())
         where api_key_id = $1 returning {COLUMNS}"
    );
    sqlx::query_as(&query)
        .bind(id.uuid())
        .fetch_optional(pool)
        .await
}
