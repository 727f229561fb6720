//! Group commit: writer tasks store every verified webhook waiting at that moment in one
//! transaction (with live reconciliation of what was new), answer each one after the shared
//! commit, and hand the deliveries enqueued claimed to this process's dispatcher.

use std::sync::Arc;

use axum::body::Bytes;
use providers::{NormalizedEvent, ProviderName};
use sqlx::{PgConnection, PgPool};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::config::ReconciliationSettings;
use crate::outbox::{self, Sinks};
use crate::reconcile::live;
use crate::store::events::{InsertOutcome, NewEvent};

/// One verified webhook waiting for its commit.
pub(super) struct Job {
    pub(super) provider: ProviderName,
    pub(super) events: Vec<NormalizedEvent>,
    /// How the webhook was authenticated.
    pub(super) verification: &'static str,
    /// Per event: whether it waits for a confirmation by fetch.
    pub(super) confirm: Vec<bool>,
    pub(super) raw: Bytes,
    pub(super) reply: oneshot::Sender<Result<Vec<InsertOutcome>, sqlx::Error>>,
}

/// A writer: takes every job waiting (up to `max_batch`), commits them together, answers each.
pub(super) async fn writer(
    pool: PgPool,
    sinks: Sinks,
    receiver: Arc<Mutex<mpsc::Receiver<Job>>>,
    max_batch: usize,
) {
    let mut jobs = Vec::with_capacity(max_batch);
    loop {
        let received = receiver.lock().await.recv_many(&mut jobs, max_batch).await;
        if received == 0 {
            return;
        }
        metrics::histogram!("paygate_ingest_batch_size").record(received as f64);
        let results = store_batch(&pool, &sinks, &jobs).await;
        for (job, result) in jobs.drain(..).zip(results) {
            // The requester may have gone (client timeout); the events are committed all the same.
            let _ = job.reply.send(result);
        }
    }
}

/// Stores a batch of jobs in one transaction, one result per job. If the batch fails (one bad
/// event, a deadlock, a lost connection), each job is stored again in its own transaction, so one
/// job's failure is only its own; exactly-once holds either way (the unique key decides).
async fn store_batch(
    pool: &PgPool,
    sinks: &Sinks,
    jobs: &[Job],
) -> Vec<Result<Vec<InsertOutcome>, sqlx::Error>> {
    let items: Vec<NewEvent<'_>> = jobs.iter().flat_map(Job::items).collect();
    let batched = store_in_transaction(pool, sinks, &items).await;
    match batched {
        Ok(outcomes) => {
            let mut outcomes = outcomes.into_iter();
            jobs.iter()
                .map(|job| Ok(outcomes.by_ref().take(job.events.len()).collect()))
                .collect()
        }
        Err(error) if jobs.len() > 1 => {
            tracing::warn!(error.message = %error, jobs = jobs.len(), "batch commit failed; storing each webhook alone");
            let mut results = Vec::with_capacity(jobs.len());
            for job in jobs {
                results.push(store_alone(pool, sinks, job).await);
            }
            results
        }
        Err(error) => vec![Err(error)],
    }
}

/// One job in its own transaction.
pub(super) async fn store_alone(
    pool: &PgPool,
    sinks: &Sinks,
    job: &Job,
) -> Result<Vec<InsertOutcome>, sqlx::Error> {
    let items: Vec<NewEvent<'_>> = job.items().collect();
    store_in_transaction(pool, sinks, &items).await
}

async fn store_in_transaction(
    pool: &PgPool,
    sinks: &Sinks,
    items: &[NewEvent<'_>],
) -> Result<Vec<InsertOutcome>, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    let stored = outbox::store_events(&mut transaction, items, sinks).await?;
    if let Some(settings) = &sinks.reconciliation {
        reconcile_new(
            &mut transaction,
            items,
            &stored.outcomes,
            settings,
            sinks.jetstream,
        )
        .await?;
    }
    transaction.commit().await?;
    // The deliveries are committed: this process's dispatcher takes those enqueued claimed now, and
    // an idle worker claims the others at once rather than at its next poll.
    if let Some(handover) = stored.handover {
        handover.hand_over();
    }
    if let Some(handoff) = &sinks.handoff
        && stored
            .outcomes
            .iter()
            .any(|outcome| matches!(outcome, InsertOutcome::Inserted(_)))
    {
        handoff.wake();
    }
    Ok(stored.outcomes)
}

/// Live reconciliation of the events just stored (duplicates are not reconciled twice, events
/// waiting for a confirmation are reconciled once confirmed), in their transaction, and the
/// `reconciliation.*` events it emits stored with them.
async fn reconcile_new(
    connection: &mut PgConnection,
    items: &[NewEvent<'_>],
    outcomes: &[InsertOutcome],
    settings: &ReconciliationSettings,
    jetstream: bool,
) -> Result<(), sqlx::Error> {
    let new: Vec<(&ProviderName, &NormalizedEvent)> = items
        .iter()
        .zip(outcomes)
        .filter(|(item, outcome)| !item.confirm && matches!(outcome, InsertOutcome::Inserted(_)))
        .map(|(item, _)| (item.provider, item.event))
        .collect();
    reconcile(connection, &new, settings, jetstream).await
}

/// Live reconciliation of `events`, in the caller's transaction, and the `reconciliation.*` events
/// it emits stored with them.
pub(super) async fn reconcile(
    connection: &mut PgConnection,
    events: &[(&ProviderName, &NormalizedEvent)],
    settings: &ReconciliationSettings,
    jetstream: bool,
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let emitted = live::on_events(&mut *connection, events, settings).await?;
    outbox::store_own_events(connection, &emitted, jetstream).await
}

impl Job {
    fn items(&self) -> impl Iterator<Item = NewEvent<'_>> {
        self.events
            .iter()
            .zip(&self.confirm)
            .map(|(event, &confirm)| NewEvent {
                provider: &self.provider,
                event,
                raw: &self.raw,
                verification: Some(self.verification),
                confirm,
            })
    }
}
