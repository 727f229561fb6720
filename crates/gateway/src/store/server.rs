//! What the Postgres server says about itself, for `paygate doctor`.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// The server settings the gateway's guarantees and speed depend on, and its clock.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ServerFacts {
    /// `synchronous_commit`.
    pub synchronous_commit: String,
    /// `fsync`.
    pub fsync: String,
    /// `autovacuum`.
    pub autovacuum: String,
    /// `max_connections`.
    pub max_connections: i64,
    /// `superuser_reserved_connections`.
    pub reserved_connections: i64,
    /// `server_version_num`, e.g. 150004.
    pub version_num: i64,
    /// `server_version`, e.g. "15.4 (Debian 15.4-1)".
    pub version: String,
    /// The server's clock when it answered.
    pub clock: DateTime<Utc>,
}

/// Reads [`ServerFacts`] in one round trip.
pub async fn facts(pool: &PgPool) -> sqlx::Result<ServerFacts> {
    sqlx::query_as(
        "select current_setting('synchronous_commit') as synchronous_commit,
                current_setting('fsync') as fsync,
                current_setting('autovacuum') as autovacuum,
                current_setting('max_connections')::int8 as max_connections,
                current_setting('superuser_reserved_connections')::int8 as reserved_connections,
                current_setting('server_version_num')::int8 as version_num,
                current_setting('server_version') as version,
                clock_timestamp() as clock",
    )
    .fetch_one(pool)
    .await
}

/// `shared_buffers` in bytes, and the size in bytes of the index that enforces exactly-once for
/// the current generation of keys (`event_key_g<N>_pkey`): every new event's key goes to a
/// random page of it.
pub async fn key_cache(pool: &PgPool) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "select pg_size_bytes(current_setting('shared_buffers')),
                coalesce(pg_relation_size(to_regclass(
                    'event_key_g' || (select current from event_key_generation) || '_pkey')), 0)",
    )
    .fetch_one(pool)
    .await
}
