//! Replay jobs: a subscription's events of a time window, re-delivered in batches behind a
//! cursor (the worker is `delivery::replay`).

use chrono::{DateTime, Utc};
use providers::{ReplayId, SubscriptionId};
use sqlx::{FromRow, PgConnection, PgPool};

use crate::store::subscriptions::{FILTERS_MATCH, patterns_match};

/// A replay's state (the `replay.status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ReplayStatus {
    /// Enqueueing batches.
    Running,
    /// Every event of the window is enqueued.
    Completed,
}

impl ReplayStatus {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ReplayStatus::Running => "running",
            ReplayStatus::Completed => "completed",
        }
    }
}

/// A replay job.
#[derive(Debug, Clone, FromRow)]
pub struct ReplayRow {
    /// Uuid of the `rpl_` id.
    pub replay_id: uuid::Uuid,
    /// Its subscription.
    pub subscription_id: uuid::Uuid,
    /// Window start (events received at or after).
    pub since: DateTime<Utc>,
    /// Window end (events received before).
    pub until: DateTime<Utc>,
    /// Type patterns.
    pub event_types: Vec<String>,
    /// Running or completed.
    pub status: ReplayStatus,
    /// Deliveries enqueued so far.
    pub enqueued: i64,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// Completion.
    pub completed_at: Option<DateTime<Utc>>,
}

impl ReplayRow {
    /// The typed id.
    pub fn id(&self) -> ReplayId {
        ReplayId::from_uuid(self.replay_id)
    }
}

const COLUMNS: &str = "replay_id, subscription_id, since, until, event_types, status, enqueued, created_at, completed_at";

/// Creates a replay job.
pub async fn create(
    pool: &PgPool,
    subscription: SubscriptionId,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    event_types: &[String],
) -> Result<ReplayRow, sqlx::Error> {
    let query = format!(
        "insert into replay (replay_id, subscription_id, since, until, event_types)
         values ($1, $2, $3, $4, $5) returning {COLUMNS}"
    );
    sqlx::query_as(&query)
        .bind(ReplayId::new().uuid())
        .bind(subscription.uuid())
        .bind(since)
        .bind(until)
        .bind(event_types)
        .fetch_one(pool)
        .await
}

/// One replay job.
pub async fn get(pool: &PgPool, id: ReplayId) -> Result<Option<ReplayRow>, sqlx::Error> {
    let query = format!("select {COLUMNS} from replay where replay_id = $1");
    sqlx::query_as(&query)
        .bind(id.uuid())
        .fetch_optional(pool)
        .await
}

/// A running replay, taken for one step (locked until the caller's transaction ends).
#[derive(Debug, FromRow)]
pub struct ReplayJob {
    /// The replay.
    pub replay_id: uuid::Uuid,
    /// Its subscription.
    pub subscription_id: uuid::Uuid,
    /// Window start.
    pub since: DateTime<Utc>,
    /// Window end.
    pub until: DateTime<Utc>,
    /// Type patterns.
    pub event_types: Vec<String>,
    /// The last event enqueued so far.
    pub cursor: Option<uuid::Uuid>,
}

/// The oldest running replay no other transaction holds, locked for the caller's transaction.
pub async fn take_running(connection: &mut PgConnection) -> Result<Option<ReplayJob>, sqlx::Error> {
    sqlx::query_as(
        "select replay_id, subscription_id, since, until, event_types, cursor from replay
         where status = 'running' order by created_at limit 1 for update skip locked",
    )
    .fetch_optional(connection)
    .await
}

/// The next events of a replay's window after its cursor, in id order: ids and resource keys.
/// Events waiting for a confirmation by fetch, or refused by it, were never published and are not
/// replayed.
pub async fn next_events(
    connection: &mut PgConnection,
    job: &ReplayJob,
    limit: i64,
) -> Result<Vec<(uuid::Uuid, String)>, sqlx::Error> {
    // The subscription's filters apply as in live matching; the patterns are the replay's.
    let query = format!(
        "select e.event_id, e.resource_kind || ':' || e.resource_id from event e
         join subscription s on s.subscription_id = $6
         where e.received_at >= $1 and e.received_at < $2
           and ($3::uuid is null or e.event_id > $3)
           and {FILTERS_MATCH} and {}
           and not exists (select 1 from event_confirmation c
                           where c.event_id = e.event_id and c.state <> 'confirmed')
         order by e.event_id limit $5",
        patterns_match("$4::text[]"),
    );
    sqlx::query_as(&query)
        .bind(job.since)
        .bind(job.until)
        .bind(job.cursor)
        .bind(&job.event_types)
        .bind(limit)
        .bind(job.subscription_id)
        .fetch_all(connection)
        .await
}

/// Moves a replay's cursor to `last` (when some events were enqueued), counts them, and completes
/// it when `done`.
pub async fn advance(
    connection: &mut PgConnection,
    replay_id: uuid::Uuid,
    last: Option<uuid::Uuid>,
    enqueued: usize,
    done: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update replay set cursor = coalesce($2, cursor), enqueued = enqueued + $3,
                status = case when $4 then 'completed' else status end,
                completed_at = case when $4 then now() else completed_at end
         where replay_id = $1",
    )
    .bind(replay_id)
    .bind(last)
    .bind(i64::try_from(enqueued).unwrap_or(i64::MAX))
    .bind(done)
    .execute(connection)
    .await?;
    Ok(())
}
