//! Quarantine: authentic webhooks the gateway could not normalize (or store as data), kept with the
//! reason, listed for operators, and replayed once the code can read them.

use chrono::{DateTime, Utc};
use providers::{ProviderName, QuarantineId};
use sqlx::{FromRow, PgConnection, PgPool};

use crate::store::Page;

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

/// A quarantined webhook.
#[derive(Debug, Clone, FromRow)]
pub struct QuarantineRow {
    /// Uuid of the `qua_` id.
    pub quarantine_id: uuid::Uuid,
    /// The provider it came from.
    pub provider: String,
    /// The path after `/webhooks/{provider}`.
    pub path: String,
    /// Why it could not become events.
    pub reason: String,
    /// The headers worth debugging (never a credential).
    pub headers: serde_json::Value,
    /// The exact body received.
    pub raw: Vec<u8>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// When it was replayed into events, if it was.
    pub replayed_at: Option<DateTime<Utc>>,
    /// The events it became.
    pub event_ids: Vec<uuid::Uuid>,
}

impl QuarantineRow {
    /// The typed id.
    pub fn id(&self) -> QuarantineId {
        QuarantineId::from_uuid(self.quarantine_id)
    }
}

const COLUMNS: &str =
    "quarantine_id, provider, path, reason, headers, raw, received_at, replayed_at, event_ids";

/// Quarantined webhooks, newest first: of one provider, and still waiting or all.
pub async fn list(
    pool: &PgPool,
    provider: Option<&str>,
    waiting_only: bool,
    starting_after: Option<QuarantineId>,
    limit: u32,
) -> Result<Page<QuarantineRow>, sqlx::Error> {
    let query = format!(
        "select {COLUMNS} from quarantine
         where ($1::text is null or provider = $1) and (not $2 or replayed_at is null)
           and ($3::uuid is null or quarantine_id < $3)
         order by quarantine_id desc limit $4"
    );
    let mut rows: Vec<QuarantineRow> = sqlx::query_as(&query)
        .bind(provider)
        .bind(waiting_only)
        .bind(starting_after.map(|id| id.uuid()))
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await?;
    Ok(Page::from_overfetch(&mut rows, limit))
}

/// One quarantined webhook.
pub async fn get(pool: &PgPool, id: QuarantineId) -> Result<Option<QuarantineRow>, sqlx::Error> {
    let query = format!("select {COLUMNS} from quarantine where quarantine_id = $1");
    sqlx::query_as(&query)
        .bind(id.uuid())
        .fetch_optional(pool)
        .await
}

/// Records that a quarantined webhook became `event_ids`.
pub async fn mark_replayed(
    pool: &PgPool,
    id: QuarantineId,
    event_ids: &[uuid::Uuid],
) -> Result<Option<QuarantineRow>, sqlx::Error> {
    let query = format!(
        "update quarantine set replayed_at = now(), event_ids = $2 where quarantine_id = $1
         returning {COLUMNS}"
    );
    sqlx::query_as(&query)
        .bind(id.uuid())
        .bind(event_ids)
        .fetch_optional(pool)
        .await
}
