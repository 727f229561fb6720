//! The JetStream worker: publishes the outbox's `jetstream` deliveries to NATS.

use std::time::{Duration, Instant};

use chrono::Utc;

use tokio_util::sync::CancellationToken;

use super::Dispatcher;
use crate::delivery::jetstream::JetStreamSink;
use crate::delivery::payload::EventBody;
use crate::store::deliveries::{self, AttemptRecord, Outcome, Recording, Sink};
use crate::store::events;

impl Dispatcher {
    pub(super) async fn jetstream_worker(&self, shutdown: CancellationToken) {
        let Some(settings) = &self.inner.jetstream else {
            return;
        };
        let mut backoff = Duration::from_millis(500);
        let sink = loop {
            match JetStreamSink::connect(settings).await {
                Ok(sink) => break sink,
                Err(error) => {
                    tracing::warn!(error.message = %error, "JetStream unavailable; events wait in the outbox");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        };
        while !shutdown.is_cancelled() {
            let handled = match self.publish_once(&sink).await {
                Ok(handled) => handled,
                Err(error) => {
                    tracing::warn!(error.message = %error, "claiming JetStream publications failed");
                    0
                }
            };
            if handled == 0 {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = tokio::time::sleep(self.poll_interval()) => {}
                }
            }
        }
    }

    /// Publishes one batch of due JetStream deliveries; a failure (NATS down) retries on the same
    /// schedule, so events wait in the outbox rather than vanish.
    pub async fn publish_once(&self, sink: &JetStreamSink) -> Result<usize, sqlx::Error> {
        let pool = &self.inner.pool;
        let claimed = deliveries::claim(
            pool,
            Sink::JetStream,
            self.inner.settings.batch_size.max(1),
            self.claim_timeout(),
        )
        .await?;
        let count = claimed.len();
        let mut recordings = Vec::with_capacity(count);
        for delivery in claimed {
            let Some(event) =
                events::get(pool, providers::EventId::from_uuid(delivery.event_id)).await?
            else {
                continue;
            };
            let started_at = Utc::now();
            let started = Instant::now();
            let payload = serde_json::to_vec(&EventBody::from(event.clone())).unwrap_or_default();
            let published = sink
                .publish(&event.event_type, &event.id().to_string(), payload)
                .await;
            let error = published.err().map(|error| error.to_string());
            let outcome = match &error {
                None => Outcome::Succeeded,
                // Waiting, not vanishing: JetStream publications never die, they keep retrying at
                // the schedule's last interval.
                Some(_) => Outcome::RetryAt(
                    Utc::now()
                        + self.delay_before(
                            usize::try_from(delivery.attempts).unwrap_or(0) + 1,
                            None,
                        ),
                ),
            };
            recordings.push(Recording {
                delivery_id: delivery.delivery_id,
                claimed_attempts: delivery.attempts,
                attempt: AttemptRecord {
                    started_at,
                    latency: started.elapsed(),
                    response_status: None,
                    response_body: None,
                    error,
                },
                outcome,
            });
        }
        let mut transaction = pool.begin().await?;
        deliveries::record_many(&mut transaction, &recordings).await?;
        transaction.commit().await?;
        Ok(count)
    }
}
