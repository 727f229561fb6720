//! Weekly partitions of the tables that grow with every event, and their retention.
//!
//! `event`, `delivery` and `delivery_attempt` are range-partitioned by week (Monday 00:00 UTC) on
//! their uuid v7 ids, whose first 48 bits are the creation time (migration 20261207000023). The
//! gateway creates partitions ahead of time ([`ensure_ahead`], at start and by the
//! `partitions.maintain` job) and drops a partition once all of it is older than its table's
//! retention ([`drop_expired`]): detached `concurrently` (a SHARE UPDATE EXCLUSIVE lock, which lets
//! reads and writes go on), then dropped. No row is ever deleted, so there is no scan and no bloat.
//! The exactly-once keys (`event_key`) rotate by generation instead ([`rotate_key_generation`]).

use chrono::{DateTime, Duration, Utc};
use sqlx::{PgPool, Postgres, Transaction};

/// A table partitioned by week on its uuid v7 id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Partitioned {
    /// Events (`event_id`).
    Events,
    /// The delivery outbox (`delivery_id`).
    Deliveries,
    /// Delivery attempts (`attempt_id`).
    Attempts,
}

impl Partitioned {
    /// Every partitioned table, in the order retention drops them (what points at a row goes first).
    pub const ALL: [Partitioned; 3] = [
        Partitioned::Attempts,
        Partitioned::Deliveries,
        Partitioned::Events,
    ];

    /// The partitioned table's name.
    pub fn table(self) -> &'static str {
        match self {
            Partitioned::Events => "event",
            Partitioned::Deliveries => "delivery",
            Partitioned::Attempts => "delivery_attempt",
        }
    }
}

/// One partition of a partitioned table.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Partition {
    /// The partition's table name.
    pub name: String,
    /// The creation time of its lowest id (the Unix epoch for the first, legacy partition).
    pub from: DateTime<Utc>,
    /// The creation time just past its highest id.
    pub to: DateTime<Utc>,
    /// Rows in it, as Postgres last estimated (`reltuples`; -1 before its first analyze).
    pub estimated_rows: i64,
}

/// The partitions of `table`, oldest first.
pub async fn list(pool: &PgPool, table: Partitioned) -> Result<Vec<Partition>, sqlx::Error> {
    sqlx::query_as(
        "select c.relname::text as name, uuid_v7_time(b.lower_bound) as \"from\",
                uuid_v7_time(b.upper_bound) as \"to\", c.reltuples::bigint as estimated_rows
         from pg_inherits i
         join pg_class c on c.oid = i.inhrelid
         cross join lateral partition_bounds(i.inhrelid) b
         where i.inhparent = $1::regclass
         order by b.upper_bound",
    )
    .bind(table.table())
    .fetch_all(pool)
    .await
}

/// Creates the missing weekly partitions of every partitioned table from a day before `now` to
/// `ahead` after it (a day back covers replicas whose clocks run behind); returns how many.
pub async fn ensure_ahead(
    pool: &PgPool,
    now: DateTime<Utc>,
    ahead: Duration,
) -> Result<u64, sqlx::Error> {
    ensure_between(pool, now - Duration::days(1), now + ahead).await
}

/// Creates the missing weekly partitions of every partitioned table covering `[from, until)`.
pub async fn ensure_between(
    pool: &PgPool,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let mut created = 0_u64;
    for table in Partitioned::ALL {
        let count: i32 =
            sqlx::query_scalar("select ensure_weekly_partitions($1::regclass, $2, $3)")
                .bind(table.table())
                .bind(from)
                .bind(until)
                .fetch_one(pool)
                .await?;
        created += u64::try_from(count).unwrap_or(0);
    }
    Ok(created)
}

/// Detaches and drops every partition of `table` whose rows are all older than `keep` before
/// `now`; returns the names dropped. A partition left half-detached by an interrupted run (Postgres
/// marks it "detach pending") is finished first.
pub async fn drop_expired(
    pool: &PgPool,
    table: Partitioned,
    now: DateTime<Utc>,
    keep: Duration,
) -> Result<Vec<String>, sqlx::Error> {
    let cutoff = now - keep;
    let expired: Vec<(String, bool)> = sqlx::query_as(
        "select c.relname::text, i.inhdetachpending
         from pg_inherits i
         join pg_class c on c.oid = i.inhrelid
         cross join lateral partition_bounds(i.inhrelid) b
         where i.inhparent = $1::regclass and b.upper_bound <= uuid_v7_floor($2)
         order by b.upper_bound",
    )
    .bind(table.table())
    .bind(cutoff)
    .fetch_all(pool)
    .await?;
    let mut dropped = Vec::with_capacity(expired.len());
    for (name, pending) in expired {
        // Identifiers cannot be bound; both come from the catalogue and are quoted.
        let parent = quote_identifier(table.table());
        let partition = quote_identifier(&name);
        let detach = if pending {
            format!("alter table {parent} detach partition {partition} finalize")
        } else {
            format!("alter table {parent} detach partition {partition} concurrently")
        };
        // Not in a transaction: `concurrently` cannot run in one.
        ddl(pool, detach).await?;
        ddl(pool, format!("drop table {partition}")).await?;
        tracing::info!(table = table.table(), partition = %name, "dropped an expired partition");
        dropped.push(name);
    }
    Ok(dropped)
}

/// The generation of exactly-once keys that inserts go to, and since when.
pub async fn key_generation(pool: &PgPool) -> Result<(i32, DateTime<Utc>), sqlx::Error> {
    sqlx::query_as("select current, started_at from event_key_generation")
        .fetch_one(pool)
        .await
}

/// Starts a new generation of exactly-once keys when the current one started `keep` or more
/// before `now` (`keep` is the events' retention), and drops the generation before the previous
/// one: every key stays for at least `keep`, as long as its event. Returns the new generation.
///
/// It holds the generation lock exclusively (`lock_key_generation_exclusively()`), so it waits for
/// every insert of events in progress and holds new ones back for the few milliseconds it takes.
pub async fn rotate_key_generation(
    pool: &PgPool,
    now: DateTime<Utc>,
    keep: Duration,
) -> Result<Option<i32>, sqlx::Error> {
    let (current, started_at) = key_generation(pool).await?;
    if started_at > now - keep {
        return Ok(None);
    }
    let mut transaction = pool.begin().await?;
    sqlx::query("select lock_key_generation_exclusively()")
        .execute(&mut *transaction)
        .await?;
    // Another replica may have rotated while this one waited for the lock.
    let (locked_current, locked_started_at): (i32, DateTime<Utc>) =
        sqlx::query_as("select current, started_at from event_key_generation for update")
            .fetch_one(&mut *transaction)
            .await?;
    if locked_current != current || locked_started_at > now - keep {
        return Ok(None);
    }
    let next = current + 1;
    create_key_generation(&mut transaction, next).await?;
    sqlx::query("update event_key_generation set current = $1, started_at = $2")
        .bind(next)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
    // Generations before the previous one are checked by no insert any more.
    let old: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_inherits i join pg_class c on c.oid = i.inhrelid
         where i.inhparent = 'event_key'::regclass
           and c.relname::text ~ '^event_key_g[0-9]+$'
           and substring(c.relname::text from 12)::integer < $1",
    )
    .bind(current)
    .fetch_all(&mut *transaction)
    .await?;
    for name in old {
        let drop = format!("drop table {}", quote_identifier(&name));
        sqlx::query(&drop)
            .persistent(false)
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    tracing::info!(
        generation = next,
        "started a new generation of exactly-once keys"
    );
    Ok(Some(next))
}

async fn create_key_generation(
    transaction: &mut Transaction<'_, Postgres>,
    generation: i32,
) -> Result<(), sqlx::Error> {
    let create = format!(
        "create table if not exists event_key_g{generation} partition of event_key \
         for values in ({generation})"
    );
    sqlx::query(&create)
        .persistent(false)
        .execute(&mut **transaction)
        .await?;
    Ok(())
}

/// Runs one DDL statement on its own (outside any transaction block, as `concurrently` needs).
async fn ddl(pool: &PgPool, statement: String) -> Result<(), sqlx::Error> {
    sqlx::query(&statement)
        .persistent(false)
        .execute(pool)
        .await?;
    Ok(())
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
