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
