//! Console sign-ins: the hash of each session's token, its API key and its CSRF token.

use chrono::{DateTime, Utc};
use providers::ApiKeyId;
use sqlx::PgPool;

use crate::store::api_keys::ApiKeyRecord;

/// Stores a new session.
pub async fn insert(
    pool: &PgPool,
    session_hash: &[u8],
    api_key: ApiKeyId,
    csrf_token: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into console_session (session_hash, api_key_id, csrf_token, expires_at)
         values ($1, $2, $3, $4)",
    )
    .bind(session_hash)
    .bind(api_key.uuid())
    .bind(csrf_token)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// A live session's key (revoked or not: the caller decides) and CSRF token; `None` when the
/// session is unknown or expired.
pub async fn find(
    pool: &PgPool,
    session_hash: &[u8],
) -> Result<Option<(ApiKeyRecord, String)>, sqlx::Error> {
    let row: Option<(uuid::Uuid, String)> = sqlx::query_as(
        "select api_key_id, csrf_token from console_session
         where session_hash = $1 and expires_at > now()",
    )
    .bind(session_hash)
    .fetch_optional(pool)
    .await?;
    let Some((key, csrf)) = row else {
        return Ok(None);
    };
    let record = crate::store::api_keys::get(pool, ApiKeyId::from_uuid(key)).await?;
    Ok(record.map(|record| (record, csrf)))
}

/// Ends a session.
pub async fn delete(pool: &PgPool, session_hash: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("delete from console_session where session_hash = $1")
        .bind(session_hash)
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes expired sessions (through the expiry index); returns how many.
pub async fn purge_expired(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("delete from console_session where expires_at <= now()")
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
