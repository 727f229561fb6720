//! Inbound webhooks: verify → normalize → store (group commit), all-or-nothing per webhook.
//!
//! The outcome is decided before the HTTP answer: nothing is acknowledged until the transaction
//! that stores the events has committed, so a provider that gets a 2xx can forget the webhook.
//!
//! # Layout
//! - `writer`: group commit by writer tasks, live reconciliation, the hand-over after the commit.
//! - `quarantine`: what is authentic but cannot be stored as events.
//! - `intake`: counts of what each registration sent and what became of it, for the console.
//! - `confirm`: webhooks as hints: the money-moving events of providers with weak webhook
//!   authentication, stored as pending, read back from the provider, then published or refused.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::HeaderMap;
use chrono::Utc;
use providers::{
    DedupKey, EventData, EventId, EventType, InboundRequest, NormalizedEvent, PartyDocument,
    ProviderName, QuarantineId, WebhookSource,
};
use sqlx::PgPool;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::config::IngestSettings;
use crate::credentials::PgCredentialStore;
use crate::outbox::Sinks;
use crate::store::events::InsertOutcome;
use crate::store::onboarding;

pub mod confirm;
pub mod intake;
pub mod quarantine;
mod writer;

use writer::{Job, store_alone, writer};

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
    /// The writer the webhook was handed to stopped before answering (its task panicked or was
    /// cancelled); whether the batch committed is unknown, so the provider must retry (a
    /// redelivery of a committed event is a duplicate, answered with the stored id).
    #[error("the writer storing the webhook stopped before answering")]
    WriterLost,
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
    /// Intake counts not yet added to Postgres.
    tally: Arc<intake::Tally>,
    /// Per provider, the confirmation by fetch its events may need.
    confirmers: confirm::Confirmers,
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
        Ingestor::start_confirming(
            pool,
            sinks,
            settings,
            credentials,
            confirm::Confirmers::default(),
        )
    }

    /// [`Ingestor::start`], holding the money-moving events of the providers in `confirmers` for
    /// a confirmation by fetch (stored pending; published by [`confirm::Confirmer`]).
    pub fn start_confirming(
        pool: PgPool,
        sinks: Sinks,
        settings: &IngestSettings,
        credentials: Option<PgCredentialStore>,
        confirmers: confirm::Confirmers,
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
        let tally = Arc::new(intake::Tally::default());
        tokio::spawn(intake::flush_until_dropped(pool.clone(), tally.clone()));
        Ingestor {
            inner: Arc::new(IngestorInner {
                pool,
                sinks,
                queue,
                credentials,
                tally,
                confirmers,
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
            self.count(&provider, path, intake::Outcome::Refused(error.code()));
            return Err(error.into());
        }
        let outcome = match source.normalize(&request) {
            Ok(events) => {
                tracing::Span::current().record("events", events.len());
                let verification = source.authentication().as_str();
                match self
                    .store(provider.clone(), events, verification, body.clone())
                    .await
                {
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
                    Err(IngestError::Storage(sqlx::Error::Database(error)))
                        if error.code().is_some_and(|code| code.starts_with("22")) =>
                    {
                        let reason = format!("the event could not be stored: {}", error.message());
                        self.quarantine(&provider, path, &reason, headers, body)
                            .await?
                    }
                    Err(error) => {
                        self.count(&provider, path, intake::Outcome::Refused("unavailable"));
                        return Err(error);
                    }
                }
            }
            Err(error) => {
                self.quarantine(&provider, path, &error.reason, headers, body)
                    .await?
            }
        };
        record_metrics(&provider, &outcome);
        let counted = match &outcome {
            Ingested::Stored(stored)
                if !stored.is_empty() && stored.iter().all(|(_, duplicate)| *duplicate) =>
            {
                intake::Outcome::Duplicate
            }
            Ingested::Stored(_) => intake::Outcome::Received,
            Ingested::Quarantined(_) => intake::Outcome::Quarantined,
        };
        self.count(&provider, path, counted);
        Ok(outcome)
    }

    fn count(&self, provider: &ProviderName, path: &str, outcome: intake::Outcome) {
        let registration = if path.is_empty() { "/" } else { path };
        self.inner
            .tally
            .count(provider.as_str(), registration, outcome, Utc::now());
    }

    /// Verified webhooks waiting for a writer.
    pub fn queued(&self) -> usize {
        self.inner.queue.max_capacity() - self.inner.queue.capacity()
    }

    /// Hands the events to a writer and waits for their commit.
    async fn store(
        &self,
        provider: ProviderName,
        events: Vec<NormalizedEvent>,
        verification: &'static str,
        raw: Bytes,
    ) -> Result<Vec<InsertOutcome>, IngestError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let events = self.number_onboarding_rounds(&provider, events).await?;
        let confirmer = self.inner.confirmers.get(provider.as_str());
        let confirm = events
            .iter()
            .map(|event| confirmer.is_some_and(|confirmer| confirmer.must_confirm(event)))
            .collect();
        let (reply, answer) = oneshot::channel();
        let job = Job {
            provider,
            events,
            verification,
            confirm,
            raw,
            reply,
        };
        match self.inner.queue.send(job).await {
            Ok(()) => match answer.await {
                Ok(stored) => Ok(stored?),
                Err(_) => Err(IngestError::WriterLost),
            },
            // No writer is left (shutting down): store it here rather than refuse it.
            Err(mpsc::error::SendError(job)) => {
                Ok(store_alone(&self.inner.pool, &self.inner.sinks, &job).await?)
            }
        }
    }

    /// A documentation rejection's body is the same for a redelivery and for a second rejection
    /// after the holder sent documents again (Delbank's has no id and no time): the onboarding
    /// round (one per submission through the gateway) goes into its dedup key, so that the
    /// redelivery is a duplicate and the new rejection a new event. Without a round (documents
    /// sent elsewhere) the key is the provider's own.
    async fn number_onboarding_rounds(
        &self,
        provider: &ProviderName,
        mut events: Vec<NormalizedEvent>,
    ) -> Result<Vec<NormalizedEvent>, IngestError> {
        for event in &mut events {
            let EventData::Account(account) = &event.data else {
                continue;
            };
            let PartyDocument::Valid(document) = &account.holder.document else {
                continue;
            };
            if event.event_type != EventType::AccountDocumentationRejected {
                continue;
            }
            let holder = onboarding::holder_hash(document.expose());
            let round =
                onboarding::current_round(&self.inner.pool, provider.as_str(), &holder).await?;
            if round > 0
                && let Ok(key) =
                    DedupKey::parse(&format!("{}:round-{round}", event.dedup_key.as_str()))
            {
                event.dedup_key = key;
            }
        }
        Ok(events)
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
