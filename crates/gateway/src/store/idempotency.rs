//! Stored responses for `Idempotency-Key`, keyed by (API key, Idempotency-Key).
//!
//! A key is first *claimed* (`in_flight`, with a lock that expires so a crashed owner does not hold
//! it forever), then *completed* with the response, which is replayed byte for byte until the
//! record expires. A 5xx *releases* the claim instead: the request did not take effect and may be
//! retried with the same key. Bodies are stored as the caller gives them: the HTTP layer seals them
//! with the keyring (they can hold secrets shown once).

use std::time::Duration;

use providers::ApiKeyId;
use sqlx::PgPool;

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers worth replaying (content type, location), as name → value.
    pub headers: Vec<(String, String)>,
    /// The body as stored: sealed (`enc:v1:...`) by the caller, or plaintext from before sealing.
    pub body: String,
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    request_hash: Vec<u8>,
    state: String,
    response_status: Option<i16>,
    response_headers: Option<serde_json::Value>,
    response_body: Option<String>,
}

/// The result of trying to claim a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller owns the key and must complete or release it.
    Acquired,
    /// The key was used for this very request: replay this response.
    Replay(StoredResponse),
    /// The same request with this key is being processed right now.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

/// How long records live and how long a claim holds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// How long a completed response is replayed.
    pub ttl: Duration,
    /// How long an in-flight claim holds before another request may take it over.
    pub lock: Duration,
}

/// Claims `key` for a request whose fingerprint is `request_hash`.
pub async fn claim(
    pool: &PgPool,
    api_key: ApiKeyId,
    key: &str,
    request_hash: &[u8],
    lifetimes: Lifetimes,
) -> Result<Claim, sqlx::Error> {
    let ttl_secs = i64::try_from(lifetimes.ttl.as_secs()).unwrap_or(i64::MAX);
    let lock_secs = i64::try_from(lifetimes.lock.as_secs()).unwrap_or(i64::MAX);
    // A concurrent release can delete the row between our insert and our read; then we try again.
    for _ in 0..3 {
        sqlx::query("delete from idempotency_record where api_key_id = $1 and idempotency_key = $2 and expires_at < now()")
            .bind(api_key.uuid())
            .bind(key)
            .execute(pool)
            .await?;
        let inserted = sqlx::query(
            "insert into idempotency_record (api_key_id, idempotency_key, request_hash, state, locked_until, expires_at)
             values ($1, $2, $3, 'in_flight', now() + $4 * interval '1 second', now() + $5 * interval '1 second')
             on conflict on constraint idempotency_record_pkey do nothing",
        )
        .bind(api_key.uuid())
        .bind(key)
        .bind(request_hash)
        .bind(lock_secs)
        .bind(ttl_secs)
        .execute(pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::Acquired);
        }
        let taken_over = sqlx::query(
            "update idempotency_record set locked_until = now() + $4 * interval '1 second'
             where api_key_id = $1 and idempotency_key = $2 and request_hash = $3
               and state = 'in_flight' and locked_until < now()",
        )
        .bind(api_key.uuid())
        .bind(key)
        .bind(request_hash)
        .bind(lock_secs)
        .execute(pool)
        .await?;
        if taken_over.rows_affected() == 1 {
            return Ok(Claim::Acquired);
        }
        let row: Option<RecordRow> = sqlx::query_as(
            "select request_hash, state, response_status, response_headers, response_body
             from idempotency_record where api_key_id = $1 and idempotency_key = $2",
        )
        .bind(api_key.uuid())
        .bind(key)
        .fetch_optional(pool)
        .await?;
        let Some(RecordRow {
            request_hash: stored_hash,
            state,
            response_status: status,
            response_headers: headers,
            response_body: body,
        }) = row
        else {
            continue;
        };
        if stored_hash != request_hash {
            return Ok(Claim::Mismatch);
        }
        return Ok(match (state.as_str(), status, body) {
            ("completed", Some(status), Some(body)) => Claim::Replay(StoredResponse {
                status: u16::try_from(status).unwrap_or(500),
                headers: headers.map(headers_from_json).unwrap_or_default(),
                body,
            }),
            _ => Claim::InFlight,
        });
    }
    Ok(Claim::InFlight)
}

/// Stores the response of a claimed key.
pub async fn complete(
    pool: &PgPool,
    api_key: ApiKeyId,
    key: &str,
    response: &StoredResponse,
) -> Result<(), sqlx::Error> {
    let headers: serde_json::Map<String, serde_json::Value> = response
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone())))
        .collect();
    sqlx::query(
        "update idempotency_record
         set state = 'completed', locked_until = null, response_status = $3, response_headers = $4, response_body = $5
         where api_key_id = $1 and idempotency_key = $2",
    )
    .bind(api_key.uuid())
    .bind(key)
    .bind(i16::try_from(response.status).unwrap_or(500))
    .bind(serde_json::Value::Object(headers))
    .bind(&response.body)
    .execute(pool)
    .await?;
    Ok(())
}

/// Gives a claimed key back without a response (the request failed with a 5xx).
pub async fn release(pool: &PgPool, api_key: ApiKeyId, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("delete from idempotency_record where api_key_id = $1 and idempotency_key = $2 and state = 'in_flight'")
        .bind(api_key.uuid())
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

/// Expired records deleted per statement: each statement is short, whatever the backlog.
const PURGE_BATCH: i64 = 5_000;

/// Deletes expired records, in statements of [`PURGE_BATCH`]; returns how many.
pub async fn purge_expired(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut purged = 0;
    loop {
        let done = sqlx::query(
            "delete from idempotency_record where ctid = any(array(
                 select ctid from idempotency_record where expires_at < now() limit $1))",
        )
        .bind(PURGE_BATCH)
        .execute(pool)
        .await?;
        purged += done.rows_affected();
        if done.rows_affected() < u64::try_from(PURGE_BATCH).unwrap_or(u64::MAX) {
            return Ok(purged);
        }
    }
}

fn headers_from_json(value: serde_json::Value) -> Vec<(String, String)> {
    match value {
        serde_json::Value::Object(map) => map
            .into_iter()
            .filter_map(|(name, value)| value.as_str().map(|v| (name, v.to_owned())))
            .collect(),
        _ => Vec::new(),
    }
}
