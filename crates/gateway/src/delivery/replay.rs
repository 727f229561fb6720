//! Durable bulk replay: re-deliver a subscription's events of a time window.
//!
//! A replay is a row in `replay` with a cursor. The worker takes one running replay at a time
//! (`for update skip locked`, so replicas share the work), enqueues deliveries for the next batch of
//! matching events in id order, and advances the cursor in the same transaction. A crash loses at
//! most an uncommitted batch, which is redone; a restart resumes from the cursor. Nothing is held in
//! memory beyond one batch, so a replay has no size cap.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::store::{deliveries, replays};

/// Events enqueued per transaction.
pub const BATCH: i64 = 500;

/// Advances one running replay by one batch; returns whether there was work.
pub async fn step(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    let Some(job) = replays::take_running(&mut transaction).await? else {
        return Ok(false);
    };
    let batch = replays::next_events(&mut transaction, &job, BATCH).await?;
    deliveries::enqueue_replayed(&mut transaction, job.subscription_id, &batch).await?;
    let done = i64::try_from(batch.len()).unwrap_or(i64::MAX) < BATCH;
    let last = batch.last().map(|(id, _)| *id);
    replays::advance(&mut transaction, job.replay_id, last, batch.len(), done).await?;
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
