//! Quarantine: authentic webhooks the gateway could not normalize, kept with the reason.

use providers::{ProviderName, QuarantineId};
use sqlx::PgConnection;

/// Stores a verified-but-unparseable webhook. `headers` must not contain credentials.
pub async fn insert(
    connection: &mut PgConnection,
    provider: &ProviderName,
    path: &str,
    reason: &str,
    headers: &serde_json::Value,
    raw: &[u8],
) -> Result<QuarantineId, sqlx::Error> {
    let id = QuarantineId::new();
    sqlx::query(
        "insert into quarantine (quarantine_id, provider, path, reason, headers, raw)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.uuid())
    .bind(provider.as_str())
    .bind(path)
    .bind(reason)
    .bind(headers)
    .bind(raw)
    .execute(connection)
    .await?;
    Ok(id)
}

/// A quarantined webhook, as read back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QuarantinedWebhook {
    /// Uuid of the `qua_` id.
    pub quarantine_id: uuid::Uuid,
    /// Provider that sent it.
    pub provider: String,
    /// Path after `/webhooks/{provider}`.
    pub path: String,
    /// Why it could not be normalized.
    pub reason: String,
    /// The exact bytes received.
    pub raw: Vec<u8>,
}

/// Everything quarantined for a provider, oldest first.
pub async fn list_for_provider(
    connection: &mut PgConnection,
    provider: &ProviderName,
) -> Result<Vec<QuarantinedWebhook>, sqlx::Error> {
    sqlx::query_as(
        "select quarantine_id, provider, path, reason, raw from quarantine
         where provider = $1 order by quarantine_id",
    )
    .bind(provider.as_str())
    .fetch_all(connection)
    .await
}
