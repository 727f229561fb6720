//! The event store: normalized provider events, exactly once per `(provider, dedup_key)`.
//!
//! `event` is partitioned by week on its uuid v7 id (`store::partitions`), so the exactly-once rule
//! cannot be a unique constraint on it: `event_key` holds each key in the current *generation*'s
//! partition, where its primary key refuses a second copy, and an insert first checks that the
//! previous generation does not hold the key. Inserters take the generation lock shared for their
//! transaction (`lock_key_generation()`) and the rotation to a new generation takes it exclusively,
//! so the check and the insert always see the same generations (migration 20261207000019).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use providers::{EventId, EventPattern, NormalizedEvent, ProviderName};
use sqlx::{Connection, FromRow, PgConnection, PgPool};

use crate::store::Page;

/// What became of an insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The event is new; it got this id.
    Inserted(EventId),
    /// The provider already delivered this event; this is the id it got the first time.
    Duplicate(EventId),
}

impl InsertOutcome {
    /// The event's id, whichever way it went.
    pub fn event_id(&self) -> EventId {
        match self {
            InsertOutcome::Inserted(id) | InsertOutcome::Duplicate(id) => *id,
        }
    }
}

/// A stored event, as read back.
#[derive(Debug, Clone, FromRow)]
pub struct StoredEvent {
    /// Uuid of the `evt_` id.
    pub event_id: uuid::Uuid,
    /// Provider that sent it.
    pub provider: String,
    /// Gateway taxonomy name.
    pub event_type: String,
    /// The provider's own name for it.
    pub provider_event_type: String,
    /// Unique per provider.
    pub dedup_key: String,
    /// Kind of the resource it is about.
    pub resource_kind: String,
    /// Id of that resource at the provider.
    pub resource_id: String,
    /// Provider correlation id, when it has one.
    pub correlation_id: Option<String>,
    /// When it happened: per the provider, or when the gateway received it (`occurred_at_source`).
    pub occurred_at: DateTime<Utc>,
    /// `provider`, or `received` when the payload carried no time of its own.
    pub occurred_at_source: String,
    /// When the gateway stored it.
    pub received_at: DateTime<Utc>,
    /// Provider-neutral fields.
    pub data: serde_json::Value,
    /// How its webhook was authenticated; `None` for the gateway's own events and older ones.
    pub verification: Option<String>,
}

impl StoredEvent {
    /// The typed id.
    pub fn id(&self) -> EventId {
        EventId::from_uuid(self.event_id)
    }

    /// The normalized event it was stored from (its data read back into its type's shape).
    pub fn normalized(&self) -> Result<NormalizedEvent, serde_json::Error> {
        serde_json::from_value(serde_json::json!({
            "type": self.event_type,
            "provider_event_type": self.provider_event_type,
            "dedup_key": self.dedup_key,
            "resource": {
                "kind": self.resource_kind,
                "id": self.resource_id,
                "correlation_id": self.correlation_id,
            },
            "occurred_at": (self.occurred_at_source == "provider").then_some(self.occurred_at),
            "data": self.data,
        }))
    }
}

/// One event to store, with the exact bytes it arrived in.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    /// Provider that sent it.
    pub provider: &'a ProviderName,
    /// The normalized event.
    pub event: &'a NormalizedEvent,
    /// The webhook body it came in (shared by the events of one body).
    pub raw: &'a [u8],
    /// How its webhook was authenticated (`signature`, `credential`, `none`); `None` for the
    /// gateway's own events.
    pub verification: Option<&'static str>,
    /// Whether it waits for a confirmation by fetch before it is published and reconciled.
    pub confirm: bool,
}

/// Inserts one event unless `(provider, dedup_key)` exists; safe under any concurrency: the key's
/// primary key in `event_key` decides, and the loser reads the winner's id.
pub async fn insert(
    connection: &mut PgConnection,
    provider: &ProviderName,
    event: &NormalizedEvent,
    raw: &[u8],
) -> Result<InsertOutcome, sqlx::Error> {
    let outcomes = insert_many(
        connection,
        &[NewEvent {
            provider,
            event,
            raw,
            verification: None,
            confirm: false,
        }],
    )
    .await?;
    outcomes.into_iter().next().ok_or(sqlx::Error::RowNotFound)
}

/// Inserts many events in one statement, each unless its `(provider, dedup_key)` exists; one outcome
/// per item, in order. An item repeating an earlier item's key is that item's duplicate. Rows are
/// inserted in key order, so two batches with overlapping keys lock them in the same order and
/// cannot deadlock each other.
///
/// The key generation's lock must cover both of its statements, so a call on a connection that is
/// not in a transaction makes one of its own (callers that store deliveries with the events pass
/// their transaction, and the lock is held until it ends).
pub async fn insert_many(
    connection: &mut PgConnection,
    items: &[NewEvent<'_>],
) -> Result<Vec<InsertOutcome>, sqlx::Error> {
    if connection.is_in_transaction() {
        return insert_many_locked(connection, items).await;
    }
    let mut transaction = connection.begin().await?;
    let outcomes = insert_many_locked(&mut transaction, items).await?;
    transaction.commit().await?;
    Ok(outcomes)
}

async fn insert_many_locked(
    connection: &mut PgConnection,
    items: &[NewEvent<'_>],
) -> Result<Vec<InsertOutcome>, sqlx::Error> {
    // The first item of each key; the others are in-batch duplicates of it.
    let mut first_of: HashMap<(&str, &str), usize> = HashMap::with_capacity(items.len());
    let mut unique: Vec<usize> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let key = (item.provider.as_str(), item.event.dedup_key.as_str());
        if let std::collections::hash_map::Entry::Vacant(slot) = first_of.entry(key) {
            slot.insert(index);
            unique.push(index);
        }
    }
    unique.sort_unstable_by_key(|&index| {
        (
            items[index].provider.as_str(),
            items[index].event.dedup_key.as_str(),
        )
    });
    let new_ids: Vec<uuid::Uuid> = (0..items.len()).map(|_| EventId::new().uuid()).collect();
    let rows: Vec<&NewEvent<'_>> = unique.iter().map(|&index| &items[index]).collect();
    // The lock is held until the caller's transaction ends: no rotation of the key generation in
    // between. The generation is a parameter below, so that the previous generation's check is an
    // index probe of one partition.
    let generation: i32 = sqlx::query_scalar("select lock_key_generation()")
        .fetch_one(&mut *connection)
        .await?;
    // language=PostgreSQL
    let inserted: Vec<uuid::Uuid> = sqlx::query_scalar(
        "with fresh as (
             insert into event_key (generation, provider, dedup_key, event_id)
             select $12, u.p, u.k, u.i
             from unnest($1::uuid[], $2::text[], $5::text[]) with ordinality as u(i, p, k, n)
             where not exists (select 1 from event_key o
                               where o.generation = $12 - 1 and o.provider = u.p
                                 and o.dedup_key = u.k)
             order by u.n
             on conflict do nothing
             returning event_id
         )
         insert into event (event_id, provider, event_type, provider_event_type, dedup_key,
                            resource_kind, resource_id, correlation_id, occurred_at, occurred_at_source,
                            data, raw, verification)
         select i, p, t, pt, k, rk, ri, c, coalesce(o, now()),
                case when o is null then 'received' else 'provider' end, d, r, v
         from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::timestamptz[], $10::jsonb[], $11::bytea[],
                     $13::text[])
              as u(i, p, t, pt, k, rk, ri, c, o, d, r, v)
         where u.i in (select event_id from fresh)
         returning event_id",
    )
    .bind(unique.iter().map(|&index| new_ids[index]).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.provider.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.event.event_type.to_string()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.event.provider_event_type.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.event.dedup_key.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.event.resource.kind.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.event.resource.id.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.event.resource.correlation_id.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.event.occurred_at).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| sqlx::types::Json(&r.event.data))
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.raw).collect::<Vec<_>>())
    .bind(generation)
    .bind(rows.iter().map(|r| r.verification).collect::<Vec<_>>())
    .fetch_all(&mut *connection)
    .await?;
    let inserted: HashSet<uuid::Uuid> = inserted.into_iter().collect();
    // The id each key ends up with, at its first item: the new one, or the existing row's.
    let mut id_of: Vec<Option<uuid::Uuid>> = new_ids
        .iter()
        .map(|id| inserted.contains(id).then_some(*id))
        .collect();
    // Keys that lost to an existing row: that row is committed (a uniqueness wait resolves only on
    // commit), so it is visible to this next statement.
    let lost: Vec<&NewEvent<'_>> = rows
        .iter()
        .zip(&unique)
        .filter(|&(_, &index)| id_of[index].is_none())
        .map(|(row, _)| *row)
        .collect();
    if !lost.is_empty() {
        let existing: Vec<(String, String, uuid::Uuid)> = sqlx::query_as(
            "select provider, dedup_key, event_id from event_key
             where generation in ($3, $3 - 1)
               and (provider, dedup_key) in (select * from unnest($1::text[], $2::text[]))",
        )
        .bind(lost.iter().map(|r| r.provider.as_str()).collect::<Vec<_>>())
        .bind(
            lost.iter()
                .map(|r| r.event.dedup_key.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(generation)
        .fetch_all(&mut *connection)
        .await?;
        for (provider, dedup_key, id) in existing {
            if let Some(&first) = first_of.get(&(provider.as_str(), dedup_key.as_str())) {
                id_of[first] = Some(id);
            }
        }
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let key = (item.provider.as_str(), item.event.dedup_key.as_str());
            let first = first_of.get(&key).copied().unwrap_or(index);
            let id = id_of[first].ok_or(sqlx::Error::RowNotFound)?;
            let event_id = EventId::from_uuid(id);
            Ok(if first == index && inserted.contains(&id) {
                InsertOutcome::Inserted(event_id)
            } else {
                InsertOutcome::Duplicate(event_id)
            })
        })
        .collect()
}

/// Filters for [`list`]; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Event type pattern such as `loan.*`.
    pub event_type: Option<EventPattern>,
    /// Provider name.
    pub provider: Option<String>,
    /// Resource id at the provider (loan id, endToEndId, ...).
    pub resource_id: Option<String>,
    /// Occurred at or after.
    pub from: Option<DateTime<Utc>>,
    /// Occurred strictly before.
    pub to: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "event_id, provider, event_type, provider_event_type, dedup_key, resource_kind, resource_id,
                       correlation_id, occurred_at, occurred_at_source, received_at, data,
                       verification";

/// Newest first; `starting_after` is the last id of the previous page. Ids are unique and the order
/// is by id alone, so pages neither repeat nor skip an event while others are being inserted.
pub async fn list(
    pool: &PgPool,
    filter: &EventFilter,
    starting_after: Option<EventId>,
    limit: u32,
) -> Result<Page<StoredEvent>, sqlx::Error> {
    let pattern = filter.event_type.as_ref().map(EventPattern::to_sql_like);
    // language=PostgreSQL
    let query = format!(
        "select {COLUMNS} from event
         where ($1::text is null or event_type like $1)
           and ($2::text is null or provider = $2)
           and ($3::text is null or resource_id = $3)
           and ($4::timestamptz is null or occurred_at >= $4)
           and ($5::timestamptz is null or occurred_at < $5)
           and ($6::uuid is null or event_id < $6)
         order by event_id desc
         limit $7"
    );
    let mut rows: Vec<StoredEvent> = sqlx::query_as(&query)
        .bind(pattern)
        .bind(&filter.provider)
        .bind(&filter.resource_id)
        .bind(filter.from)
        .bind(filter.to)
        .bind(starting_after.map(|id| id.uuid()))
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await?;
    Ok(Page::from_overfetch(&mut rows, limit))
}

/// One event by id.
pub async fn get(pool: &PgPool, id: EventId) -> Result<Option<StoredEvent>, sqlx::Error> {
    let query = format!("select {COLUMNS} from event where event_id = $1");
    sqlx::query_as(&query)
        .bind(id.uuid())
        .fetch_optional(pool)
        .await
}

/// The events with these ids (missing ones are skipped).
pub async fn get_many(pool: &PgPool, ids: &[uuid::Uuid]) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let query = format!("select {COLUMNS} from event where event_id = any($1)");
    sqlx::query_as(&query).bind(ids).fetch_all(pool).await
}

/// The exact bytes the provider sent for this event.
pub async fn raw(pool: &PgPool, id: EventId) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("select raw from event where event_id = $1")
        .bind(id.uuid())
        .fetch_optional(pool)
        .await
}

/// How many events exist for `(provider, dedup_key)`; tests use it to prove exactly-once.
pub async fn count_by_dedup_key(
    pool: &PgPool,
    provider: &ProviderName,
    dedup_key: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from event where provider = $1 and dedup_key = $2")
        .bind(provider.as_str())
        .bind(dedup_key)
        .fetch_one(pool)
        .await
}

/// How many events of each type are stored, by type name.
pub async fn count_by_type(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("select event_type, count(*) from event group by 1 order by 1")
        .fetch_all(pool)
        .await
}
