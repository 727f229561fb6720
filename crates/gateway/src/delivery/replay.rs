//! Durable bulk replay: re-deliver a subscription's events of a time window.
//!
//! A replay is a row in `replay` with a cursor. The worker takes one running replay at a time
//! (`for update skip locked`, so replicas share the work), enqueues deliveries for the next batch of
//! matching events in id order, and advances the cursor in the same transaction. A crash loses at
//! most an uncommitted batch, which is redone; a restart resumes from the cursor. Nothing is held in
//! memory beyond one batch, so a replay has no size cap.

use std::time::Duration;

use chrono::{DateTime, Utc};
use providers::{ReplayId, SubscriptionId};
use sqlx::{FromRow, PgPool};
use tokio_util::sync::CancellationToken;

/// Events enqueued per transaction.
pub const BATCH: i64 = 500;

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
    /// `running` or `completed`.
    pub status: String,
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

#[derive(FromRow)]
struct Job {
    replay_id: uuid::Uuid,
    subscription_id: uuid::Uuid,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    event_types: Vec<String>,
    cursor: Option<uuid::Uuid>,
}

/// Advances one running replay by one batch; returns whether there was work.
pub async fn step(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    let job: Option<Job> = sqlx::query_as(
        "select replay_id, subscription_id, since, until, event_types, cursor from replay
         where status = 'running' order by created_at limit 1 for update skip locked",
    )
    .fetch_optional(&mut *transaction)
    .await?;
    let Some(Job {
        replay_id,
        subscription_id,
        since,
        until,
        event_types: patterns,
        cursor,
    }) = job
    else {
        return Ok(false);
    };
    // language=PostgreSQL
    let batch: Vec<(uuid::Uuid, String)> = sqlx::query_as(
        "select event_id, resource_kind || ':' || resource_id from event
         where received_at >= $1 and received_at < $2
           and ($3::uuid is null or event_id > $3)
           and exists (select 1 from unnest($4::text[]) as p(pattern) where event_type_matches(pattern, event_type))
         order by event_id limit $5",
    )
    .bind(since)
    .bind(until)
    .bind(cursor)
    .bind(&patterns)
    .bind(BATCH)
    .fetch_all(&mut *transaction)
    .await?;
    let delivery_ids: Vec<uuid::Uuid> = batch
        .iter()
        .map(|_| providers::DeliveryId::new().uuid())
        .collect();
    let event_ids: Vec<uuid::Uuid> = batch.iter().map(|(id, _)| *id).collect();
    let keys: Vec<String> = batch.iter().map(|(_, key)| key.clone()).collect();
    sqlx::query(
        "insert into delivery (delivery_id, sink, subscription_id, event_id, ordering_key)
         select d, 'webhook', $4, e, k from unnest($1::uuid[], $2::uuid[], $3::text[]) as t(d, e, k)",
    )
    .bind(&delivery_ids)
    .bind(&event_ids)
    .bind(&keys)
    .bind(subscription_id)
    .execute(&mut *transaction)
    .await?;
    let done = i64::try_from(batch.len()).unwrap_or(i64::MAX) < BATCH;
    sqlx::query(
        "update replay set cursor = coalesce($2, cursor), enqueued = enqueued + $3,
                status = case when $4 then 'completed' else status end,
                completed_at = case when $4 then now() else completed_at end
         where replay_id = $1",
    )
    .bind(replay_id)
    .bind(event_ids.last().copied())
    .bind(i64::try_from(batch.len()).unwrap_or(i64::MAX))
    .bind(done)
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(true)
}

/// Runs replay steps until `shutdown`.
pub async fn worker(pool: PgPool, poll: Duration, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        let worked = match step(&pool).await {
            Ok(worked) => worked,
            Err(error) => {
                tracing::warn!(error.message = %error, "replay step failed; it will be retried");
                false
            }
        };
        if !worked {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }
}
