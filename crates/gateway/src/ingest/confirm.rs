//! Webhooks as hints, confirmed by fetch.
//!
//! A provider whose webhook authentication is weak (Delbank's static credential, the API Pix's
//! callback that only mTLS at the receiver authenticates) registers an [`EventConfirmer`]. Its
//! money-moving events are stored as they arrive (so the webhook is acknowledged once stored and
//! never lost) with a pending confirmation, and are neither published nor reconciled. The
//! [`Confirmer`] claims pending confirmations (with a lease, so replicas share them), reads each
//! resource back from the provider's API, and then, in one transaction:
//! - confirmed: marks the confirmation, enqueues the event's deliveries and reconciles it live;
//! - contradicted: marks the event refused with the reason; it is never published;
//! - the provider could not answer: tries again later, with exponential backoff up to a ceiling,
//!   for as long as it takes: the event waits.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use providers::{Confirmation, EventConfirmer, NormalizedEvent, ProviderName};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::config::ConfirmationSettings;
use crate::outbox::{self, Sinks};
use crate::store::confirmations::{self, State};
use crate::store::events::{self, StoredEvent};

/// The confirmation by fetch of each provider that registered one, by provider name.
pub type Confirmers = Arc<HashMap<String, Arc<dyn EventConfirmer>>>;

/// What one confirmation came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Published (and reconciled).
    Confirmed,
    /// Refused with this reason.
    Refused(String),
    /// The provider could not answer; tried again after this delay.
    RetryAfter(Duration),
    /// Another replica resolved it first.
    AlreadyResolved,
}

/// Confirms pending events, publishing or refusing each. Cheap to clone.
#[derive(Clone)]
pub struct Confirmer {
    pool: PgPool,
    sinks: Sinks,
    confirmers: Confirmers,
    settings: ConfirmationSettings,
}

impl Confirmer {
    /// A confirmer over `pool`, publishing to `sinks` (reconciling with its settings).
    pub fn new(
        pool: PgPool,
        sinks: Sinks,
        confirmers: Confirmers,
        settings: ConfirmationSettings,
    ) -> Confirmer {
        Confirmer {
            pool,
            sinks,
            confirmers,
            settings,
        }
    }

    /// Runs until `shutdown`: claims what is due, confirms it, sleeps when nothing is.
    pub async fn run(self, shutdown: CancellationToken) {
        let idle = Duration::from_millis(self.settings.poll_interval_ms);
        loop {
            let worked = match self.run_once().await {
                Ok(outcomes) => !outcomes.is_empty(),
                Err(error) => {
                    tracing::warn!(error.message = %error, "confirmation pass failed");
                    false
                }
            };
            if worked {
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(idle) => {}
            }
        }
    }

    /// One pass: claims up to a batch of due confirmations and settles each, a few at a time.
    pub async fn run_once(&self) -> Result<Vec<(uuid::Uuid, Outcome)>, sqlx::Error> {
        let lease = Duration::from_secs(self.settings.lease_secs);
        let claimed = confirmations::claim_due(&self.pool, self.settings.batch, lease).await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<uuid::Uuid> = claimed.iter().map(|(id, _)| *id).collect();
        let mut stored: HashMap<uuid::Uuid, StoredEvent> = events::get_many(&self.pool, &ids)
            .await?
            .into_iter()
            .map(|event| (event.event_id, event))
            .collect();
        let work: Vec<(uuid::Uuid, i32, Option<StoredEvent>)> = claimed
            .into_iter()
            .map(|(id, attempts)| (id, attempts, stored.remove(&id)))
            .collect();
        let results: Vec<Result<(uuid::Uuid, Outcome), sqlx::Error>> = futures::stream::iter(work)
            .map(|(id, attempts, event)| async move {
                let outcome = self.settle(id, attempts, event).await?;
                Ok((id, outcome))
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn settle(
        &self,
        event_id: uuid::Uuid,
        attempts: i32,
        stored: Option<StoredEvent>,
    ) -> Result<Outcome, sqlx::Error> {
        let Some(stored) = stored else {
            // Its event is gone (past retention while it waited): nothing can be published.
            return self
                .refuse(event_id, "the event is no longer stored", "unknown")
                .await;
        };
        let provider = stored.provider.clone();
        let Some(confirmer) = self.confirmers.get(&provider) else {
            // Confirmation was turned off for the provider with events still waiting: they wait
            // for it to be turned on again rather than being published unconfirmed.
            return self
                .retry(
                    event_id,
                    &provider,
                    attempts,
                    "no confirmation is registered for the provider",
                )
                .await;
        };
        let (name, event) = match (ProviderName::parse(&provider), stored.normalized()) {
            (Ok(name), Ok(event)) => (name, event),
            (_, Err(error)) => {
                let reason = format!("the stored event cannot be read back: {error}");
                return self.retry(event_id, &provider, attempts, &reason).await;
            }
            (Err(error), _) => {
                let reason = format!("the stored provider name is invalid: {error}");
                return self.retry(event_id, &provider, attempts, &reason).await;
            }
        };
        match confirmer.confirm(&event).await {
            Ok(Confirmation::Confirmed) => self.publish(event_id, &name, &event).await,
            Ok(Confirmation::Contradicted(reason)) => {
                self.refuse(event_id, &reason, &provider).await
            }
            Err(error) => {
                self.retry(event_id, &provider, attempts, &error.to_string())
                    .await
            }
        }
    }

    async fn publish(
        &self,
        event_id: uuid::Uuid,
        provider: &ProviderName,
        event: &NormalizedEvent,
    ) -> Result<Outcome, sqlx::Error> {
        let mut transaction = self.pool.begin().await?;
        if !confirmations::resolve(&mut transaction, event_id, State::Confirmed, None).await? {
            return Ok(Outcome::AlreadyResolved);
        }
        let handover = outbox::fan_out(
            &mut transaction,
            &[(event_id, provider, event)],
            self.sinks.jetstream,
            self.sinks.handoff.as_ref(),
        )
        .await?;
        if let Some(settings) = &self.sinks.reconciliation {
            super::writer::reconcile(
                &mut transaction,
                &[(provider, event)],
                settings,
                self.sinks.jetstream,
            )
            .await?;
        }
        transaction.commit().await?;
        if let Some(handover) = handover {
            handover.hand_over();
        }
        if let Some(handoff) = &self.sinks.handoff {
            handoff.wake();
        }
        count(provider.as_str(), "confirmed");
        Ok(Outcome::Confirmed)
    }

    async fn refuse(
        &self,
        event_id: uuid::Uuid,
        reason: &str,
        provider: &str,
    ) -> Result<Outcome, sqlx::Error> {
        let mut transaction = self.pool.begin().await?;
        let resolved =
            confirmations::resolve(&mut transaction, event_id, State::Refused, Some(reason))
                .await?;
        transaction.commit().await?;
        if !resolved {
            return Ok(Outcome::AlreadyResolved);
        }
        tracing::warn!(%provider, event_id = %providers::EventId::from_uuid(event_id), reason, "event contradicted by the provider's API: refused, not published");
        count(provider, "refused");
        Ok(Outcome::Refused(reason.to_owned()))
    }

    async fn retry(
        &self,
        event_id: uuid::Uuid,
        provider: &str,
        attempts: i32,
        error: &str,
    ) -> Result<Outcome, sqlx::Error> {
        let delay = self.settings.backoff(attempts);
        confirmations::retry_later(&self.pool, event_id, delay, error).await?;
        tracing::info!(%provider, event_id = %providers::EventId::from_uuid(event_id), attempts, retry_in_ms = delay.as_millis() as u64, error, "confirmation by fetch failed; the event waits");
        count(provider, "retried");
        Ok(Outcome::RetryAfter(delay))
    }
}

fn count(provider: &str, outcome: &'static str) {
    metrics::counter!("paygate_confirmations_total", "provider" => provider.to_owned(), "outcome" => outcome)
        .increment(1);
}
