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
