//! Inbound webhooks: verify → normalize → store (group commit), all-or-nothing per webhook.
//!
//! The outcome is decided before the HTTP answer: nothing is acknowledged until the transaction
//! that stores the events has committed, so a provider that gets a 2xx can forget the webhook.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::HeaderMap;
use chrono::Utc;
use providers::{
    EventId, InboundRequest, NormalizedEvent, ProviderName, QuarantineId, WebhookSource,
};
use sqlx::{PgConnection, PgPool};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::config::{IngestSettings, ReconciliationSettings};
use crate::credentials::PgCredentialStore;
use crate::outbox::{self, Sinks};
use crate::reconcile::live;
use crate::store::events::{InsertOutcome, NewEvent};
use crate::store::quarantine;

/// Headers kept with a quarantined webhook: enough to debug it, never a credential.
const KEPT_HEADERS: [&str; 7] = [
    "content-type",
    "content-length",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "x-request-id",
    "traceparent",
];

/// What happened to an inbound webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// Stored; one entry per normalized event, `true` when it was a duplicate.
    Stored(Vec<(EventId, bool)>),
    /// Authentic but not understood: kept in quarantine with the reason.
    Quarantined(QuarantineId),
}

/// Why an inbound webhook was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Failed verification; nothing was stored.
    #[error("verification failed: {0}")]
    Rejected(#[from] providers::VerifyError),
    /// Postgres failed; the provider must retry.
    #[error("storage failed: {0}")]
    Storage(#[from] sqlx::Error),
}

/// Stores verified webhooks with group commit: concurrent webhooks are handed to writer tasks, and
/// each writer stores every webhook waiting at that moment in one transaction, then answers each
/// one after that shared commit. A lone webhook is committed at once (no timer); under load the
/// batches grow by themselves, so one WAL flush and a handful of statements serve many webhooks.
/// Cheap to clone.
#[derive(Clone)]
pub struct Ingestor {
    inner: Arc<IngestorInner>,
}

struct IngestorInner {
    pool: PgPool,
    sinks: Sinks,
    queue: mpsc::Sender<Job>,
    /// The cached credentials the sources verify with, refreshed when a webhook matches none.
    credentials: Option<PgCredentialStore>,
}

/// One verified webhook waiting for its commit.
struct Job {
    provider: ProviderName,
    events: Vec<NormalizedEvent>,
    raw: Bytes,
    reply: oneshot::Sender<Result<Vec<InsertOutcome>, sqlx::Error>>,
}

impl Ingestor {
    /// Starts `settings.writers` writer tasks over `pool`; they stop once every clone is dropped,
    /// after committing what was handed to them. `credentials` is the cached store the webhook
    /// sources read from, if any: a webhook refused as matching none of its cached credentials is
    /// verified once more against fresh ones.
    pub fn start(
        pool: PgPool,
        sinks: Sinks,
        settings: &IngestSettings,
        credentials: Option<PgCredentialStore>,
    ) -> Ingestor {
        let (queue, receiver) = mpsc::channel(settings.queue_capacity.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..settings.writers.max(1) {
            tokio::spawn(writer(
                pool.clone(),
                sinks.clone(),
                receiver.clone(),
                settings.max_batch.max(1),
            ));
        }
        Ingestor {
            inner: Arc::new(IngestorInner {
                pool,
                sinks,
                queue,
                credentials,
            }),
        }
    }

    /// Verifies, normalizes and stores one inbound webhook; returns once its outcome is committed.
    #[tracing::instrument(skip_all, fields(provider = %source.provider(), events))]
    pub async fn receive(
        &self,
        source: &Arc<dyn WebhookSource>,
        path: &str,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<Ingested, IngestError> {
        let provider = source.provider();
        let request = InboundRequest {
            path,
            headers,
            body,
        };
        let mut verified = source.verify(&request, Utc::now()).await;
        if verified == Err(providers::VerifyError::InvalidSignature)
            && self
                .inner
                .credentials
                .as_ref()
                .is_some_and(|credentials| credentials.forget(&provider))
        {
            // Matched none of the cached credentials: one registered or rotated on another replica
            // since they were read would be in the table.
            verified = source.verify(&request, Utc::now()).await;
        }
        if let Err(error) = verified {
            metrics::counter!("paygate_webhooks_rejected_total", "provider" => provider.to_string(), "code" => error.code())
                .increment(1);
            return Err(error.into());
        }
        let outcome = match source.normalize(&request) {
            Ok(events) => {
                tracing::Span::current().record("events", events.len());
                match self.store(provider.clone(), events, body.clone()).await {
                    Ok(outcomes) => Ingested::Stored(
                        outcomes
                            .into_iter()
                            .map(|outcome| {
                                (
                                    outcome.event_id(),
                                    matches!(outcome, InsertOutcome::Duplicate(_)),
                                )
                            })
                            .collect(),
                    ),
                    // Postgres refuses the event's content (a NUL character, a number out of
                    // range): retrying cannot help, so it is kept in quarantine, not refused.
                    Err(sqlx::Error::Database(error))
                        if error.code().is_some_and(|code| code.starts_with("22")) =>
                    {
                        let reason = format!("the event could not be stored: {}", error.message());
                        self.quarantine(&provider, path, &reason, headers, body)
                            .await?
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            Err(error) => {
                self.quarantine(&provider, path, &error.reason, headers, body)
                    .await?
            }
        };
        record_metrics(&provider, &outcome);
        Ok(outcome)
    }

    /// Verified webhooks waiting for a writer.
    pub fn queued(&self) -> usize {
        self.inner.queue.max_capacity() - self.inner.queue.capacity()
    }

    async fn quarantine(
        &self,
        provider: &ProviderName,
        path: &str,
        reason: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Ingested, sqlx::Error> {
        let mut transaction = self.inner.pool.begin().await?;
        let id = quarantine::insert(
            &mut transaction,
            provider,
            path,
            reason,
            &kept_headers(headers),
            body,
        )
        .await?;
        transaction.commit().await?;
        Ok(Ingested::Quarantined(id))
    }

    /// Hands the events to a writer and waits for their commit.
    async fn store(
        &self,
        provider: ProviderName,
        events: Vec<NormalizedEvent>,
        raw: Bytes,
    ) -> Result<Vec<InsertOutcome>, sqlx::Error> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        let job = Job {
            provider,
            events,
            raw,
            reply,
        };
        match self.inner.queue.send(job).await {
            Ok(()) => answer.await.unwrap_or(Err(sqlx::Error::WorkerCrashed)),
            // No writer is left (shutting down): store it here rather than refuse it.
            Err(mpsc::error::SendError(job)) => {
                store_alone(&self.inner.pool, &self.inner.sinks, &job).await
            }
        }
    }
}

/// A writer: takes every job waiting (up to `max_batch`), commits them together, answers each.
async fn writer(
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
async fn store_alone(
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

/// Live reconciliation of the events just stored (duplicates are not reconciled twice), in their
/// transaction, and the `reconciliation.*` events it emits stored with them.
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
        .filter(|(_, outcome)| matches!(outcome, InsertOutcome::Inserted(_)))
        .map(|(item, _)| (item.provider, item.event))
        .collect();
    let emitted = live::on_events(&mut *connection, &new, settings).await?;
    outbox::store_own_events(connection, &emitted, jetstream).await
}

impl Job {
    fn items(&self) -> impl Iterator<Item = NewEvent<'_>> {
        self.events.iter().map(|event| NewEvent {
            provider: &self.provider,
            event,
            raw: &self.raw,
        })
    }
}

fn record_metrics(provider: &ProviderName, outcome: &Ingested) {
    let provider = provider.to_string();
    match outcome {
        Ingested::Stored(stored) => {
            let duplicates = stored.iter().filter(|(_, duplicate)| *duplicate).count();
            let inserted = stored.len() - duplicates;
            metrics::counter!("paygate_events_stored_total", "provider" => provider.clone())
                .increment(inserted as u64);
            metrics::counter!("paygate_events_duplicate_total", "provider" => provider)
                .increment(duplicates as u64);
        }
        Ingested::Quarantined(_) => {
            tracing::warn!("webhook quarantined");
            metrics::counter!("paygate_webhooks_quarantined_total", "provider" => provider)
                .increment(1);
        }
    }
}

fn kept_headers(headers: &HeaderMap) -> serde_json::Value {
    let kept: serde_json::Map<String, serde_json::Value> = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?.to_str().ok()?;
            Some((
                (*name).to_owned(),
                serde_json::Value::String(value.to_owned()),
            ))
        })
        .collect();
    serde_json::Value::Object(kept)
}
