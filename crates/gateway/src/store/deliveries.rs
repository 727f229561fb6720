//! The delivery outbox and its attempts.
//!
//! States: `pending` (due at `next_attempt_at`) → `delivering` (claimed until `locked_until`) →
//! `succeeded`, back to `pending` (retry), or `dead` (schedule exhausted, or 410 Gone). A
//! `delivering` row whose lock expired goes back to `pending` ([`reap_expired`]): its dispatcher
//! died between the POST and the record, and the delivery is redone rather than lost (receivers
//! dedupe on `webhook-id`).

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use providers::{DeliveryId, SubscriptionId};
use sqlx::{FromRow, PgConnection, PgPool};

use crate::store::Page;

/// Where a delivery goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// A subscription's URL.
    Webhook,
    /// The NATS JetStream sink.
    JetStream,
}

impl Sink {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Sink::Webhook => "webhook",
            Sink::JetStream => "jetstream",
        }
    }
}

/// A delivery's state (the `delivery.status` column).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, serde::Serialize, serde::Deserialize,
)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Due at `next_attempt_at`.
    Pending,
    /// Claimed by a dispatcher until `locked_until`.
    Delivering,
    /// The partner acknowledged it.
    Succeeded,
    /// Dead-lettered: the schedule is exhausted, or the endpoint answered 410 Gone.
    Dead,
}

impl DeliveryStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [DeliveryStatus; 4] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Delivering,
        DeliveryStatus::Succeeded,
        DeliveryStatus::Dead,
    ];

    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivering => "delivering",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Dead => "dead",
        }
    }

    /// Whether nothing more will happen to it without an operator (succeeded or dead).
    pub fn is_final(&self) -> bool {
        matches!(self, DeliveryStatus::Succeeded | DeliveryStatus::Dead)
    }
}

impl std::str::FromStr for DeliveryStatus {
    type Err = ();

    fn from_str(input: &str) -> Result<DeliveryStatus, ()> {
        DeliveryStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == input)
            .ok_or(())
    }
}

/// How many deliveries are in each status (statuses with none are left out), in lifecycle order.
pub async fn count_by_status(pool: &PgPool) -> Result<Vec<(DeliveryStatus, i64)>, sqlx::Error> {
    let mut counts: Vec<(DeliveryStatus, i64)> =
        sqlx::query_as("select status, count(*) from delivery group by 1")
            .fetch_all(pool)
            .await?;
    counts.sort_by_key(|(status, _)| DeliveryStatus::ALL.iter().position(|s| s == status));
    Ok(counts)
}

/// Enqueues a replay's deliveries of `events` (ids and resource keys) to `subscription`, pending,
/// in the caller's transaction.
pub async fn enqueue_replayed(
    connection: &mut PgConnection,
    subscription: uuid::Uuid,
    events: &[(uuid::Uuid, String)],
) -> Result<(), sqlx::Error> {
    let delivery_ids: Vec<uuid::Uuid> = events.iter().map(|_| DeliveryId::new().uuid()).collect();
    let event_ids: Vec<uuid::Uuid> = events.iter().map(|(id, _)| *id).collect();
    let keys: Vec<&str> = events.iter().map(|(_, key)| key.as_str()).collect();
    sqlx::query(
        "insert into delivery (delivery_id, sink, subscription_id, event_id, ordering_key)
         select d, 'webhook', $4, e, k from unnest($1::uuid[], $2::uuid[], $3::text[]) as t(d, e, k)",
    )
    .bind(&delivery_ids)
    .bind(&event_ids)
    .bind(&keys)
    .bind(subscription)
    .execute(connection)
    .await?;
    Ok(())
}

/// One outbox row to enqueue.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// Where it goes.
    pub sink: Sink,
    /// The subscription, for webhooks.
    pub subscription_id: Option<uuid::Uuid>,
    /// The stored event.
    pub event_id: uuid::Uuid,
    /// The resource key, for ordered subscriptions.
    pub ordering_key: String,
    /// Enqueued already claimed (`delivering`) by this process, which hands it to its own
    /// dispatcher once the transaction commits (see `delivery::dispatcher::Handoff`).
    pub claimed: bool,
}

/// Enqueues deliveries in the caller's transaction, in one statement; `seq` follows the slice's
/// order, which ordered subscriptions deliver in. Rows marked `claimed` are inserted `delivering`
/// for `claim_timeout` (if their owner dies first, the reaper puts them back). Returns the new
/// delivery ids, in the rows' order.
pub async fn enqueue(
    connection: &mut PgConnection,
    rows: &[NewDelivery],
    claim_timeout: Duration,
) -> Result<Vec<uuid::Uuid>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<uuid::Uuid> = rows.iter().map(|_| DeliveryId::new().uuid()).collect();
    sqlx::query(
        "insert into delivery (delivery_id, sink, subscription_id, event_id, ordering_key, status,
                               locked_until)
         select d, k, s, e, o, case when c then 'delivering' else 'pending' end,
                case when c then now() + $7 * interval '1 second' end
         from unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::bool[])
              with ordinality as t(d, k, s, e, o, c, n)
         order by n",
    )
    .bind(&ids)
    .bind(rows.iter().map(|row| row.sink.as_str()).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|row| row.subscription_id)
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|row| row.event_id).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|row| row.ordering_key.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|row| row.claimed).collect::<Vec<_>>())
    .bind(i64::try_from(claim_timeout.as_secs()).unwrap_or(i64::MAX))
    .execute(connection)
    .await?;
    Ok(ids)
}

/// A delivery claimed by a dispatcher.
#[derive(Debug, Clone, FromRow)]
pub struct Claimed {
    /// The delivery.
    pub delivery_id: uuid::Uuid,
    /// Its subscription (none for sinks).
    pub subscription_id: Option<uuid::Uuid>,
    /// The event to deliver.
    pub event_id: uuid::Uuid,
    /// Attempts made before this one.
    pub attempts: i32,
}

/// Puts the claims of `sink` that expired (their dispatcher died between the POST and the record)
/// back to pending, so a delivery is redone rather than lost; returns how many. Dispatcher workers
/// call it about once a second, not with every claim: it walks the claimed-rows index, which holds
/// the dead entries of every recent claim until vacuum.
pub async fn reap_expired(pool: &PgPool, sink: Sink) -> Result<u64, sqlx::Error> {
    let reaped = sqlx::query(
        "update delivery set status = 'pending', locked_until = null, updated_at = now()
         where locked_until < now() and status = 'delivering' and sink = $1",
    )
    .bind(sink.as_str())
    .execute(pool)
    .await?;
    Ok(reaped.rows_affected())
}

/// Claims up to `limit` due deliveries of `sink` for `claim_timeout`. Safe with any number of
/// dispatchers: rows are locked with `skip locked` and flipped to `delivering` in one statement.
/// Expired claims are claimable again once [`reap_expired`] has put them back to pending.
/// For ordered subscriptions only the head of each resource key is claimable: a later delivery
/// waits while an earlier one of the same key is pending or in flight (a dead one no longer blocks).
pub async fn claim(
    pool: &PgPool,
    sink: Sink,
    limit: u32,
    claim_timeout: Duration,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let timeout_secs = i64::try_from(claim_timeout.as_secs()).unwrap_or(i64::MAX);
    // language=PostgreSQL
    sqlx::query_as(
        "with due as (
            select d.delivery_id from delivery d
            left join subscription s on s.subscription_id = d.subscription_id
            where d.status = 'pending' and d.next_attempt_at <= now() and d.sink = $1
              and (s.subscription_id is null or s.status = 'active')
              and (s.subscription_id is null or not s.ordered or not exists (
                    select 1 from delivery p
                    where p.subscription_id = d.subscription_id and p.ordering_key = d.ordering_key
                      and p.seq < d.seq and p.status in ('pending', 'delivering')))
            order by d.next_attempt_at, d.seq
            limit $2
            for update of d skip locked
         )
         update delivery set status = 'delivering', locked_until = now() + $3 * interval '1 second', updated_at = now()
         from due where delivery.delivery_id = due.delivery_id
         returning delivery.delivery_id, delivery.subscription_id, delivery.event_id, delivery.attempts",
    )
    .bind(sink.as_str())
    .bind(i64::from(limit))
    .bind(timeout_secs)
    .fetch_all(pool)
    .await
}

/// One attempt's facts.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// When the POST started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub latency: Duration,
    /// The partner's HTTP status, when it answered.
    pub response_status: Option<u16>,
    /// The start of its body.
    pub response_body: Option<String>,
    /// What went wrong, when something did.
    pub error: Option<String>,
}

/// What to do with a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered.
    Succeeded,
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Give up (schedule exhausted or 410).
    Dead,
}

/// One attempt to record: the delivery, the attempt count its claim saw, what happened, what next.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The delivery.
    pub delivery_id: uuid::Uuid,
    /// `attempts` as claimed (the claim's fencing token).
    pub claimed_attempts: i32,
    /// The attempt's facts.
    pub attempt: AttemptRecord,
    /// What to do next.
    pub outcome: Outcome,
}

/// Records a batch's attempts in two statements: moves on every delivery this dispatcher still owns
/// and stores its attempt. Returns the ids it recorded; the others' claims expired and were taken
/// over, and their new owner records them.
pub async fn record_many(
    connection: &mut PgConnection,
    recordings: &[Recording],
) -> Result<Vec<uuid::Uuid>, sqlx::Error> {
    if recordings.is_empty() {
        return Ok(Vec::new());
    }
    let status = |r: &Recording| -> Option<i16> {
        r.attempt
            .response_status
            .map(|s| i16::try_from(s).unwrap_or(i16::MAX))
    };
    let recorded: Vec<uuid::Uuid> = sqlx::query_scalar(
        "update delivery d set status = u.status, attempts = d.attempts + 1,
                next_attempt_at = coalesce(u.next_attempt_at, d.next_attempt_at),
                locked_until = null, last_response_status = u.response_status, last_error = u.error,
                updated_at = now(),
                delivered_at = case when u.status = 'succeeded' then now() else d.delivered_at end
         from unnest($1::uuid[], $2::int4[], $3::text[], $4::timestamptz[], $5::int2[], $6::text[])
              as u(delivery_id, claimed_attempts, status, next_attempt_at, response_status, error)
         where d.delivery_id = u.delivery_id and d.status = 'delivering' and d.attempts = u.claimed_attempts
         returning d.delivery_id",
    )
    .bind(recordings.iter().map(|r| r.delivery_id).collect::<Vec<_>>())
    .bind(recordings.iter().map(|r| r.claimed_attempts).collect::<Vec<_>>())
    .bind(
        recordings
            .iter()
            .map(|r| match r.outcome {
                Outcome::Succeeded => "succeeded",
                Outcome::RetryAt(_) => "pending",
                Outcome::Dead => "dead",
            })
            .collect::<Vec<_>>(),
    )
    .bind(
        recordings
            .iter()
            .map(|r| match r.outcome {
                Outcome::RetryAt(at) => Some(at),
                Outcome::Succeeded | Outcome::Dead => None,
            })
            .collect::<Vec<_>>(),
    )
    .bind(recordings.iter().map(status).collect::<Vec<_>>())
    .bind(recordings.iter().map(|r| r.attempt.error.clone()).collect::<Vec<_>>())
    .fetch_all(&mut *connection)
    .await?;
    let owned: HashSet<uuid::Uuid> = recorded.iter().copied().collect();
    let kept: Vec<&Recording> = recordings
        .iter()
        .filter(|r| owned.contains(&r.delivery_id))
        .collect();
    if kept.is_empty() {
        return Ok(recorded);
    }
    sqlx::query(
        "insert into delivery_attempt (attempt_id, delivery_id, started_at, latency_ms, response_status, response_body, error)
         select * from unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::int4[], $5::int2[], $6::text[], $7::text[])",
    )
    .bind(kept.iter().map(|_| providers::AttemptId::new().uuid()).collect::<Vec<_>>())
    .bind(kept.iter().map(|r| r.delivery_id).collect::<Vec<_>>())
    .bind(kept.iter().map(|r| r.attempt.started_at).collect::<Vec<_>>())
    .bind(
        kept.iter()
            .map(|r| i32::try_from(r.attempt.latency.as_millis()).unwrap_or(i32::MAX))
            .collect::<Vec<_>>(),
    )
    .bind(kept.iter().map(|r| status(r)).collect::<Vec<_>>())
    .bind(kept.iter().map(|r| r.attempt.response_body.clone()).collect::<Vec<_>>())
    .bind(kept.iter().map(|r| r.attempt.error.clone()).collect::<Vec<_>>())
    .execute(&mut *connection)
    .await?;
    Ok(recorded)
}

/// Puts claimed deliveries back to pending, due `at`, without counting an attempt: a rate limit
/// says later, or the dispatcher will not deliver them after all (it is stopping, held them too
/// long, or their subscription was disabled meanwhile).
pub async fn release(
    pool: &PgPool,
    delivery_ids: &[uuid::Uuid],
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if delivery_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "update delivery set status = 'pending', locked_until = null, next_attempt_at = $2,
                updated_at = now()
         where delivery_id = any($1) and status = 'delivering'",
    )
    .bind(delivery_ids)
    .bind(at)
    .execute(pool)
    .await?;
    Ok(())
}

/// A delivery as operators see it.
#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRow {
    /// Uuid of the `dlv_` id.
    pub delivery_id: uuid::Uuid,
    /// Its subscription.
    pub subscription_id: Option<uuid::Uuid>,
    /// The event.
    pub event_id: uuid::Uuid,
    /// The event's type.
    pub event_type: String,
    /// Its state.
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: i32,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// Last HTTP status.
    pub last_response_status: Option<i16>,
    /// Last error.
    pub last_error: Option<String>,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// When it succeeded.
    pub delivered_at: Option<DateTime<Utc>>,
}

impl DeliveryRow {
    /// The typed id.
    pub fn id(&self) -> DeliveryId {
        DeliveryId::from_uuid(self.delivery_id)
    }
}

const COLUMNS: &str =
    "d.delivery_id, d.subscription_id, d.event_id, e.event_type, d.status, d.attempts,
    d.next_attempt_at, d.last_response_status, d.last_error, d.created_at, d.delivered_at";

/// A subscription's deliveries, newest first, optionally by status.
pub async fn list_for_subscription(
    pool: &PgPool,
    subscription: SubscriptionId,
    status: Option<&str>,
    starting_after: Option<DeliveryId>,
    limit: u32,
) -> Result<Page<DeliveryRow>, sqlx::Error> {
    let query = format!(
        "select {COLUMNS} from delivery d join event e using (event_id)
         where d.subscription_id = $1 and ($2::text is null or d.status = $2)
           and ($3::uuid is null or d.delivery_id < $3)
         order by d.delivery_id desc limit $4"
    );
    let mut rows: Vec<DeliveryRow> = sqlx::query_as(&query)
        .bind(subscription.uuid())
        .bind(status)
        .bind(starting_after.map(|id| id.uuid()))
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await?;
    Ok(Page::from_overfetch(&mut rows, limit))
}

/// One delivery.
pub async fn get(pool: &PgPool, id: DeliveryId) -> Result<Option<DeliveryRow>, sqlx::Error> {
    let query = format!(
        "select {COLUMNS} from delivery d join event e using (event_id) where d.delivery_id = $1"
    );
    sqlx::query_as(&query)
        .bind(id.uuid())
        .fetch_optional(pool)
        .await
}

/// An attempt row.
#[derive(Debug, Clone, FromRow)]
pub struct AttemptRow {
    /// Uuid of the `att_` id.
    pub attempt_id: uuid::Uuid,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// Latency.
    pub latency_ms: i32,
    /// Partner status.
    pub response_status: Option<i16>,
    /// Start of the body.
    pub response_body: Option<String>,
    /// Error.
    pub error: Option<String>,
}

/// A delivery's attempts, oldest first.
pub async fn attempts(pool: &PgPool, id: DeliveryId) -> Result<Vec<AttemptRow>, sqlx::Error> {
    sqlx::query_as(
        "select attempt_id, started_at, latency_ms, response_status, response_body, error
         from delivery_attempt where delivery_id = $1 order by started_at, attempt_id",
    )
    .bind(id.uuid())
    .fetch_all(pool)
    .await
}

/// Makes a delivery due now (manual retry): allowed for dead and pending ones; a dead one gets a
/// fresh schedule. Returns the row, or `None` when it is not retryable (in flight or succeeded).
pub async fn retry_now(pool: &PgPool, id: DeliveryId) -> Result<Option<DeliveryRow>, sqlx::Error> {
    let updated = sqlx::query(
        "update delivery set status = 'pending', next_attempt_at = now(), attempts = 0, updated_at = now()
         where delivery_id = $1 and status in ('dead', 'pending')",
    )
    .bind(id.uuid())
    .execute(pool)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    get(pool, id).await
}

/// Due-queue depth and the age of the oldest due delivery, for metrics.
pub async fn queue_stats(pool: &PgPool) -> Result<(i64, f64), sqlx::Error> {
    sqlx::query_as(
        "select count(*), coalesce(extract(epoch from now() - min(next_attempt_at))::float8, 0)
         from delivery where status = 'pending' and next_attempt_at <= now()",
    )
    .fetch_one(pool)
    .await
}

/// An event's deliveries (at most `limit`, oldest first).
pub async fn for_event(
    pool: &PgPool,
    event: uuid::Uuid,
    limit: u32,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let query = format!(
        "select {COLUMNS} from delivery d join event e using (event_id)
         where d.event_id = $1 order by d.delivery_id limit $2"
    );
    sqlx::query_as(&query)
        .bind(event)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
}

/// Makes every dead delivery of a subscription due now, with a fresh schedule (as [`retry_now`]);
/// returns how many. Walks the dead-letter index only.
pub async fn retry_dead(pool: &PgPool, subscription: SubscriptionId) -> Result<u64, sqlx::Error> {
    let updated = sqlx::query(
        "update delivery set status = 'pending', next_attempt_at = now(), attempts = 0, updated_at = now()
         where subscription_id = $1 and status = 'dead'",
    )
    .bind(subscription.uuid())
    .execute(pool)
    .await?;
    Ok(updated.rows_affected())
}

/// A subscription's recent health, over the attempts of its latest deliveries.
#[derive(Debug, Clone, FromRow)]
pub struct HealthRow {
    /// The subscription.
    pub subscription_id: uuid::Uuid,
    /// Attempts counted.
    pub attempts: i64,
    /// Of which answered 2xx.
    pub succeeded: i64,
    /// Median latency of those attempts, in ms.
    pub p50_latency_ms: Option<f64>,
    /// 95th percentile latency, in ms.
    pub p95_latency_ms: Option<f64>,
    /// Dead deliveries (all time).
    pub dead: i64,
    /// When the last failed attempt started.
    pub last_failure_at: Option<DateTime<Utc>>,
    /// Its HTTP status, if it got one.
    pub last_failure_status: Option<i16>,
    /// Its error, if it got no answer.
    pub last_failure_error: Option<String>,
}

/// Health of each subscription over the attempts of its latest `window` deliveries: bounded per
/// subscription by the `(subscription_id, delivery_id)` index, so its cost does not grow with
/// history.
pub async fn health(
    pool: &PgPool,
    subscriptions: &[uuid::Uuid],
    window: u32,
) -> Result<Vec<HealthRow>, sqlx::Error> {
    sqlx::query_as(
        "select s.id as subscription_id,
                coalesce(recent.attempts, 0) as attempts, coalesce(recent.succeeded, 0) as succeeded,
                recent.p50 as p50_latency_ms, recent.p95 as p95_latency_ms,
                (select count(*) from delivery x where x.subscription_id = s.id and x.status = 'dead') as dead,
                failure.started_at as last_failure_at, failure.response_status as last_failure_status,
                failure.error as last_failure_error
         from unnest($1::uuid[]) as s(id)
         left join lateral (
             select count(a.*) as attempts,
                    count(*) filter (where a.response_status between 200 and 299) as succeeded,
                    percentile_cont(0.5) within group (order by a.latency_ms) as p50,
                    percentile_cont(0.95) within group (order by a.latency_ms) as p95
             from (select delivery_id from delivery
                   where subscription_id = s.id order by delivery_id desc limit $2) d
             join delivery_attempt a on a.delivery_id = d.delivery_id
         ) recent on true
         left join lateral (
             select a.started_at, a.response_status, a.error
             from (select delivery_id from delivery
                   where subscription_id = s.id order by delivery_id desc limit $2) d
             join delivery_attempt a on a.delivery_id = d.delivery_id
             where a.response_status is null or a.response_status not between 200 and 299
             order by a.started_at desc limit 1
         ) failure on true",
    )
    .bind(subscriptions)
    .bind(i64::from(window))
    .fetch_all(pool)
    .await
}

/// The most of a subscription's due backlog one [`defer_due`] moves.
pub const DEFER_CHUNK: u32 = 5_000;

/// Spreads a rate-limited subscription's due pending deliveries (at most [`DEFER_CHUNK`], oldest
/// first) over the future, one `interval` apart, after the bucket's next free slot and after what
/// earlier calls spread. Called when the subscription's bucket is booked beyond the claim horizon:
/// its backlog then leaves the head of the queue, where claims would otherwise take 16 of it at a
/// time and put them back while every other subscription's deliveries wait behind. Each delivery
/// is moved once, to about when a slot will be free for it; claiming still reserves the slot, so
/// the rate holds whatever the spread. Rows another dispatcher holds are skipped. Order among the
/// moved rows is kept (ordered subscriptions also wait for their key's head by `seq`). Returns
/// how many were moved.
pub async fn defer_due(
    pool: &PgPool,
    subscription: uuid::Uuid,
    interval: Duration,
) -> Result<u64, sqlx::Error> {
    let interval_us = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX);
    let mut transaction = pool.begin().await?;
    let due: Vec<uuid::Uuid> = sqlx::query_scalar(
        "select delivery_id from delivery
         where subscription_id = $1 and status = 'pending' and next_attempt_at <= now()
         order by next_attempt_at, seq
         limit $2
         for update skip locked",
    )
    .bind(subscription)
    .bind(i64::from(DEFER_CHUNK))
    .fetch_all(&mut *transaction)
    .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let count = i64::try_from(due.len()).unwrap_or(i64::MAX);
    let base: Option<DateTime<Utc>> = sqlx::query_scalar(
        "with start as (
             select subscription_id, greatest(deferred_until, next_slot, now()) as at
             from subscription_pace where subscription_id = $1 for update
         )
         update subscription_pace p
            set deferred_until = start.at + $2 * $3 * interval '1 microsecond'
         from start where p.subscription_id = start.subscription_id
         returning start.at",
    )
    .bind(subscription)
    .bind(count)
    .bind(interval_us)
    .fetch_optional(&mut *transaction)
    .await?;
    let Some(base) = base else {
        return Ok(0);
    };
    let moved = sqlx::query(
        "update delivery d set next_attempt_at = $2 + (chunk.rank - 1) * $3 * interval '1 microsecond',
                               updated_at = now()
         from unnest($1::uuid[]) with ordinality as chunk(delivery_id, rank)
         where d.delivery_id = chunk.delivery_id",
    )
    .bind(&due)
    .bind(base)
    .bind(interval_us)
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(moved.rows_affected())
}
