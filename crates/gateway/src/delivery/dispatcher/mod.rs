//! The dispatcher: drains the outbox into partner endpoints (and JetStream).
//!
//! Each worker loops: take a batch handed over by this process's inbound path ([`Handoff`]:
//! deliveries enqueued already claimed) or claim a batch of due deliveries
//! (`store::deliveries::claim`, safe across any number of workers and replicas), deliver them
//! concurrently, record each attempt in one transaction. A claim marks a row `delivering` until
//! `claim_timeout`; if this process dies between the POST and the record, the reaper puts the row
//! back to pending and the delivery is redone (at least once; receivers dedupe on `webhook-id`, the
//! event id). Idle workers sleep until their poll interval, or until the inbound path signals a
//! commit through the [`Handoff`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use futures::future::join_all;
use providers::{DedupKey, EventType, NormalizedEvent, ResourceKind, ResourceRef};
use rand::Rng;
use secrecy::SecretString;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::config::{DeliverySettings, JetStreamSettings, Settings};
use crate::crypto::Keyring;
use crate::delivery::jetstream::JetStreamSink;
use crate::delivery::pacing::Pacing;
use crate::delivery::payload::EventBody;
use crate::delivery::replay;
use crate::delivery::signing;
use crate::delivery::ssrf::{self, SsrfPolicy};
use crate::outbox::handoff::{HandedOver, Handoff};
use crate::outbox::{self, Sinks};
use crate::store::deliveries::{self, AttemptRecord, Claimed, Outcome, Recording, Sink};
use crate::store::events::{self, StoredEvent};
use crate::store::subscriptions::{self, SubscriptionRow};

/// Drains the outbox. Cheap to clone; clones share pacing state.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
    handoff: Option<Handoff>,
}

/// How often a worker puts expired claims back to pending (see [`deliveries::reap_expired`]).
const REAP_EVERY: Duration = Duration::from_secs(1);

struct Inner {
    pool: PgPool,
    keyring: Arc<Keyring>,
    client: reqwest::Client,
    policy: Arc<SsrfPolicy>,
    settings: DeliverySettings,
    sinks: Sinks,
    jetstream: Option<JetStreamSettings>,
    pacing: Pacing,
}

/// Why the dispatcher cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DispatcherError {
    /// `delivery.allow_private_networks` is invalid.
    #[error("invalid delivery.allow_private_networks: {0}")]
    Policy(String),
    /// The HTTP client could not be built.
    #[error("cannot build the delivery HTTP client: {0}")]
    Client(String),
    /// `delivery.retry_schedule_secs` is empty.
    #[error("delivery.retry_schedule_secs must list at least one delay")]
    EmptySchedule,
}

impl Dispatcher {
    /// A dispatcher over `pool`. The JetStream sink, when `settings.jetstream.url` is set, is
    /// connected by its worker, which keeps trying while NATS is down (events wait in the outbox).
    pub fn new(
        pool: PgPool,
        keyring: Arc<Keyring>,
        settings: &Settings,
    ) -> Result<Dispatcher, DispatcherError> {
        let delivery = settings.delivery.clone();
        if delivery.retry_schedule_secs.is_empty() {
            return Err(DispatcherError::EmptySchedule);
        }
        let policy = Arc::new(
            SsrfPolicy::from_settings(&delivery)
                .map_err(|error| DispatcherError::Policy(error.to_string()))?,
        );
        let client = ssrf::guarded_client(
            policy.clone(),
            Duration::from_secs(delivery.request_timeout_secs),
        )
        .map_err(|error| DispatcherError::Client(error.to_string()))?;
        let sinks = Sinks {
            jetstream: !settings.jetstream.url.is_empty(),
            reconciliation: None,
            // Operational events it stores are found by the next poll.
            handoff: None,
        };
        let jetstream = sinks.jetstream.then(|| settings.jetstream.clone());
        Ok(Dispatcher {
            inner: Arc::new(Inner {
                pool,
                keyring,
                client,
                policy,
                settings: delivery,
                sinks,
                jetstream,
                pacing: Pacing::default(),
            }),
            handoff: None,
        })
    }

    /// This dispatcher's workers also deliver what the inbound path hands over (enqueued claimed),
    /// and wake when it signals a commit.
    pub fn taking_over(mut self, handoff: Handoff) -> Dispatcher {
        self.handoff = Some(handoff);
        self
    }

    /// Puts expired claims of `sink` back to pending when a [`REAP_EVERY`] has passed since
    /// `last` (updated).
    async fn reap_if_due(&self, sink: Sink, last: &mut Option<Instant>) {
        if last.is_some_and(|at| at.elapsed() < REAP_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        match deliveries::reap_expired(&self.inner.pool, sink).await {
            Ok(0) => {}
            Ok(reaped) => {
                tracing::info!(
                    reaped,
                    sink = sink.as_str(),
                    "expired claims put back to pending"
                )
            }
            Err(error) => {
                tracing::warn!(error.message = %error, "putting expired claims back failed")
            }
        }
    }

    /// Spawns `delivery.workers` webhook workers, the JetStream worker when configured, the replay
    /// worker and the metrics sampler; they stop when `shutdown` is cancelled, finishing the
    /// deliveries in hand.
    pub fn spawn(&self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let mut tasks = Vec::new();
        for worker in 0..self.inner.settings.workers.max(1) {
            let dispatcher = self.clone();
            let shutdown = shutdown.clone();
            tasks.push(tokio::spawn(tracing::Instrument::instrument(
                async move { dispatcher.webhook_worker(shutdown).await },
                tracing::info_span!("dispatcher", worker),
            )));
        }
        if self.inner.jetstream.is_some() {
            let dispatcher = self.clone();
            let shutdown = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                dispatcher.jetstream_worker(shutdown).await
            }));
        }
        let pool = self.inner.pool.clone();
        let replays = shutdown.clone();
        let poll = self.poll_interval();
        tasks.push(tokio::spawn(async move {
            replay::worker(pool, poll, replays).await
        }));
        let pool = self.inner.pool.clone();
        tasks.push(tokio::spawn(async move {
            sample_queue_metrics(pool, shutdown).await
        }));
        let dispatcher = self.clone();
        tokio::spawn(async move {
            join_all(tasks).await;
            // Every worker has stopped: what was handed over and not taken goes back to pending
            // for whoever runs next, and later inbound deliveries are enqueued pending.
            if let Some(handoff) = &dispatcher.handoff {
                dispatcher.put_back(&handoff.close()).await;
            }
        })
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.inner.settings.poll_interval_ms.max(10))
    }

    async fn webhook_worker(&self, shutdown: CancellationToken) {
        let mut reaped = None;
        let mut polled: Option<Instant> = None;
        while !shutdown.is_cancelled() {
            self.reap_if_due(Sink::Webhook, &mut reaped).await;
            let mut handled = match self.handoff.as_ref().and_then(Handoff::take) {
                Some(handed) => self.deliver_handed_over(handed).await,
                None => 0,
            };
            // The outbox is still polled (retries, ordered subscriptions, other replicas' events)
            // at least once per interval, however much is handed over.
            if handled == 0 || polled.is_none_or(|at| at.elapsed() >= self.poll_interval()) {
                polled = Some(Instant::now());
                handled += match self.run_once().await {
                    Ok(handled) => handled,
                    Err(error) => {
                        tracing::warn!(error.message = %error, "claiming deliveries failed");
                        0
                    }
                };
            }
            if handled == 0 {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = tokio::time::sleep(self.poll_interval()) => {}
                    () = self.woken() => {}
                }
            } else if let Some(handoff) = &self.handoff
                && u32::try_from(handled).is_ok_and(|n| n >= self.inner.settings.batch_size)
            {
                // A full batch: more may be due, so another idle worker claims alongside.
                handoff.wake();
            }
        }
    }

    /// Until the inbound path signals a commit (never, without a handoff).
    async fn woken(&self) {
        match &self.handoff {
            Some(handoff) => handoff.woken().await,
            None => std::future::pending().await,
        }
    }

    /// Delivers a batch handed over by the inbound path; returns how many it handled.
    async fn deliver_handed_over(&self, handed: HandedOver) -> usize {
        let count = handed.deliveries.len();
        if handed.claimed_at.elapsed() > self.claim_timeout() / 2 {
            // Held too long (slow partners ahead of it): its claim may not outlast an attempt.
            self.put_back(&handed.deliveries).await;
            return count;
        }
        if let Err(error) = self.deliver_claimed(handed.deliveries).await {
            // The claims expire and the deliveries are taken again: nothing is lost.
            tracing::warn!(deliveries = count, error.message = %error, "handed-over deliveries not delivered; they will be retried");
        }
        count
    }

    async fn put_back(&self, deliveries: &[Claimed]) {
        let ids: Vec<uuid::Uuid> = deliveries.iter().map(|d| d.delivery_id).collect();
        if let Err(error) = deliveries::release(&self.inner.pool, &ids, Utc::now()).await {
            // Their claims expire and the reaper puts them back: nothing is lost.
            tracing::warn!(deliveries = ids.len(), error.message = %error, "putting handed-over deliveries back failed");
        }
    }

    /// Claims one batch of due webhook deliveries and delivers it; returns how many were handled.
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let claimed = deliveries::claim(
            &self.inner.pool,
            Sink::Webhook,
            self.inner.settings.batch_size.max(1),
            self.claim_timeout(),
        )
        .await?;
        let count = claimed.len();
        if count == 0 {
            return Ok(0);
        }
        self.deliver_claimed(claimed).await?;
        Ok(count)
    }

    /// Delivers claimed deliveries concurrently and records their attempts in one transaction.
    async fn deliver_claimed(&self, claimed: Vec<Claimed>) -> Result<(), sqlx::Error> {
        // One read each for the batch's subscriptions and events; each event is serialized once,
        // each subscription's secrets decrypted once, however many deliveries share them.
        let batch = self.load_batch(&claimed).await?;
        let attempted = join_all(
            claimed
                .into_iter()
                .map(|delivery| self.deliver_logged(delivery, &batch)),
        )
        .await;
        // One transaction records the whole batch's attempts.
        let attempted: Vec<Attempted<'_>> = attempted.into_iter().flatten().collect();
        if let Err(error) = self.record(&attempted).await {
            // The claims expire and the deliveries are taken again: nothing is lost.
            tracing::warn!(deliveries = attempted.len(), error.message = %error, "deliveries not recorded; they will be retried");
        }
        Ok(())
    }

    async fn load_batch(&self, claimed: &[Claimed]) -> Result<Batch, sqlx::Error> {
        let mut subscription_ids: Vec<uuid::Uuid> =
            claimed.iter().filter_map(|c| c.subscription_id).collect();
        subscription_ids.sort_unstable();
        subscription_ids.dedup();
        let mut event_ids: Vec<uuid::Uuid> = claimed.iter().map(|c| c.event_id).collect();
        event_ids.sort_unstable();
        event_ids.dedup();
        let subscriptions = subscriptions::get_many(&self.inner.pool, &subscription_ids)
            .await?
            .into_iter()
            .map(|row| {
                let secrets = self.secrets(&row);
                (row.subscription_id, (row, secrets))
            })
            .collect();
        let events = events::get_many(&self.inner.pool, &event_ids)
            .await?
            .into_iter()
            .map(|event| {
                let payload = serde_json::to_vec(&EventBody::from(event.clone()))
                    .map(Bytes::from)
                    .map_err(|error| format!("cannot serialize the event: {error}"));
                (event.event_id, (event, payload))
            })
            .collect();
        Ok(Batch {
            subscriptions,
            events,
        })
    }

    fn claim_timeout(&self) -> Duration {
        Duration::from_secs(self.inner.settings.claim_timeout_secs.max(1))
    }

    async fn deliver_logged<'b>(
        &self,
        claimed: Claimed,
        batch: &'b Batch,
    ) -> Option<Attempted<'b>> {
        let id = providers::DeliveryId::from_uuid(claimed.delivery_id);
        match self.deliver(claimed, batch).await {
            Ok(attempted) => attempted,
            Err(error) => {
                // The claim expires and the delivery is taken again: nothing is lost.
                tracing::warn!(delivery = %id, error.message = %error, "delivery not recorded; it will be retried");
                None
            }
        }
    }

    /// Delivers one claimed delivery; `None` when there is nothing to record (released for later,
    /// or its subscription or event is gone).
    async fn deliver<'b>(
        &self,
        claimed: Claimed,
        batch: &'b Batch,
    ) -> Result<Option<Attempted<'b>>, sqlx::Error> {
        let pool = &self.inner.pool;
        let Some(subscription_id) = claimed.subscription_id else {
            return Ok(None);
        };
        let (Some((subscription, secrets)), Some((event, payload))) = (
            batch.subscriptions.get(&subscription_id),
            batch.events.get(&claimed.event_id),
        ) else {
            return Ok(None);
        };
        if subscription.status != "active" {
            // Disabled since it was enqueued claimed: it waits, pending, like the rest.
            deliveries::release(pool, &[claimed.delivery_id], Utc::now()).await?;
            return Ok(None);
        }
        let pace = self.inner.pacing.of(
            subscription_id,
            usize::try_from(self.inner.settings.max_concurrency_per_subscription.max(1))
                .unwrap_or(1),
        );
        if let Some(rate) = subscription
            .rate_limit_per_second
            .and_then(|r| u32::try_from(r).ok())
        {
            let wait = pace.reserve(rate);
            if wait > self.claim_timeout() / 2 {
                // Too far ahead to hold the claim: put it back for when its slot comes.
                pace.cancel(rate);
                let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                deliveries::release(pool, &[claimed.delivery_id], at).await?;
                return Ok(None);
            }
            tokio::time::sleep(wait).await;
        }
        let Ok(_permit) = pace.concurrency.acquire().await else {
            return Ok(None);
        };
        let started_at = Utc::now();
        let started = Instant::now();
        let attempt = self.post(subscription, event, secrets, payload).await;
        let latency = started.elapsed();
        metrics::histogram!("paygate_delivery_attempt_duration_seconds").record(latency);
        let record = AttemptRecord {
            started_at,
            latency,
            response_status: attempt.status,
            response_body: attempt.body,
            error: attempt.error,
        };
        let outcome = self.outcome(&claimed, &record, attempt.retry_after);
        Ok(Some(Attempted {
            subscription,
            recording: Recording {
                delivery_id: claimed.delivery_id,
                claimed_attempts: claimed.attempts,
                attempt: record,
                outcome,
            },
        }))
    }

    async fn post(
        &self,
        subscription: &SubscriptionRow,
        event: &StoredEvent,
        secrets: &Result<Vec<SecretString>, String>,
        payload: &Result<Bytes, String>,
    ) -> PostResult {
        let url = match url::Url::parse(&subscription.url) {
            Ok(url) => url,
            Err(error) => return PostResult::failed(format!("invalid url: {error}")),
        };
        if let Err(error) = ssrf::check_url(&url, &self.inner.policy) {
            return PostResult::failed(format!("{}: {error}", error.code()));
        }
        let secrets = match secrets {
            Ok(secrets) => secrets,
            Err(error) => return PostResult::failed(error.clone()),
        };
        let payload = match payload {
            Ok(payload) => payload.clone(),
            Err(error) => return PostResult::failed(error.clone()),
        };
        let id = event.id().to_string();
        let signed = match signing::sign(&id, Utc::now().timestamp(), &payload, secrets) {
            Ok(signed) => signed,
            Err(error) => return PostResult::failed(error.to_string()),
        };
        let sent = self
            .inner
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", signed.id)
            .header("webhook-timestamp", signed.timestamp.to_string())
            .header("webhook-signature", signed.signature)
            .body(payload)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                let reason = match ssrf::SsrfError::find_in(&error) {
                    Some(refused) => format!("{}: {refused}", refused.code()),
                    None if error.is_timeout() => "timeout".to_owned(),
                    None if error.is_connect() => format!("connection failed: {error}"),
                    None => format!("request failed: {error}"),
                };
                return PostResult::failed(reason);
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = read_prefix(response, self.inner.settings.response_body_max_bytes).await;
        let error = (!(200..300).contains(&status)).then(|| format!("endpoint answered {status}"));
        PostResult {
            status: Some(status),
            body,
            error,
            retry_after,
        }
    }

    /// The current secret and, during a rotation's grace period, the previous one.
    fn secrets(&self, subscription: &SubscriptionRow) -> Result<Vec<SecretString>, String> {
        let keyring = &self.inner.keyring;
        let mut secrets = vec![
            keyring
                .decrypt(&subscription.secret)
                .map_err(|error| error.to_string())?,
        ];
        if let (Some(previous), Some(until)) = (
            &subscription.previous_secret,
            subscription.previous_secret_expires_at,
        ) && until > Utc::now()
        {
            secrets.push(
                keyring
                    .decrypt(previous)
                    .map_err(|error| error.to_string())?,
            );
        }
        Ok(secrets)
    }

    /// What follows an attempt: success, a retry at its scheduled time, or dead.
    fn outcome(
        &self,
        claimed: &Claimed,
        attempt: &AttemptRecord,
        retry_after: Option<Duration>,
    ) -> Outcome {
        let settings = &self.inner.settings;
        let gone = attempt.response_status == Some(410);
        let attempts_after = usize::try_from(claimed.attempts).unwrap_or(0) + 1;
        if attempt.error.is_none() {
            Outcome::Succeeded
        } else if gone || attempts_after >= settings.retry_schedule_secs.len() {
            Outcome::Dead
        } else {
            Outcome::RetryAt(Utc::now() + self.delay_before(attempts_after, retry_after))
        }
    }

    /// Records a batch's attempts in one transaction: every delivery still owned moves on, each
    /// subscription with a success is healthy again, and failures extend their subscription's
    /// failure streak (disabling it after a 410 or a streak too long).
    async fn record(&self, attempted: &[Attempted<'_>]) -> Result<(), sqlx::Error> {
        if attempted.is_empty() {
            return Ok(());
        }
        let settings = &self.inner.settings;
        let recordings: Vec<Recording> = attempted.iter().map(|a| a.recording.clone()).collect();
        let mut transaction = self.inner.pool.begin().await?;
        // Deliveries whose claim expired were taken over; their new owner records them instead.
        let recorded: HashSet<uuid::Uuid> = deliveries::record_many(&mut transaction, &recordings)
            .await?
            .into_iter()
            .collect();
        let recorded: Vec<&Attempted<'_>> = attempted
            .iter()
            .filter(|a| recorded.contains(&a.recording.delivery_id))
            .collect();
        let mut healthy: Vec<&SubscriptionRow> = recorded
            .iter()
            .filter(|a| a.recording.outcome == Outcome::Succeeded)
            .map(|a| a.subscription)
            .collect();
        healthy.sort_unstable_by_key(|s| s.subscription_id);
        healthy.dedup_by_key(|s| s.subscription_id);
        let ids: Vec<uuid::Uuid> = healthy.iter().map(|s| s.subscription_id).collect();
        subscriptions::record_success_many(&mut transaction, &ids).await?;
        let mut failing_gauges = Vec::new();
        for failed in recorded
            .iter()
            .filter(|a| a.recording.outcome != Outcome::Succeeded)
        {
            let subscription = failed.subscription;
            let subscription_id = subscription.subscription_id;
            let failing_since =
                subscriptions::record_failure(&mut transaction, subscription_id).await?;
            let streak = (Utc::now() - failing_since).to_std().unwrap_or_default();
            failing_gauges.push((subscription.id().to_string(), streak));
            let reason = if failed.recording.attempt.response_status == Some(410) {
                Some("the endpoint answered 410 Gone".to_owned())
            } else if streak >= Duration::from_secs(settings.disable_after_failing_secs) {
                Some(format!(
                    "the endpoint failed continuously since {failing_since}"
                ))
            } else {
                None
            };
            if let Some(reason) = reason
                && subscriptions::disable(&mut transaction, subscription_id, &reason).await?
            {
                self.emit_disabled(&mut transaction, subscription, &reason, failing_since)
                    .await?;
            }
        }
        transaction.commit().await?;
        for subscription in healthy {
            metrics::gauge!("paygate_subscription_failing_seconds", "subscription" => subscription.id().to_string())
                .set(0.0);
        }
        for (subscription, streak) in failing_gauges {
            metrics::gauge!("paygate_subscription_failing_seconds", "subscription" => subscription)
                .set(streak.as_secs_f64());
        }
        for attempted in recorded {
            let outcome_label = match attempted.recording.outcome {
                Outcome::Succeeded => "succeeded",
                Outcome::RetryAt(_) => "retrying",
                Outcome::Dead => "dead",
            };
            metrics::counter!("paygate_deliveries_total", "outcome" => outcome_label).increment(1);
        }
        Ok(())
    }

    /// The delay before attempt number `attempt` (0-based): the schedule's entry with jitter, or the
    /// partner's `Retry-After` (capped) when that is longer.
    fn delay_before(&self, attempt: usize, retry_after: Option<Duration>) -> chrono::Duration {
        let settings = &self.inner.settings;
        let scheduled = settings
            .retry_schedule_secs
            .get(attempt)
            .copied()
            .unwrap_or(0);
        let jittered = jitter(
            Duration::from_secs(scheduled),
            settings.retry_jitter_percent,
        );
        let honoured = retry_after
            .map(|after| after.min(Duration::from_secs(settings.retry_after_cap_secs)))
            .unwrap_or_default();
        chrono::Duration::from_std(jittered.max(honoured)).unwrap_or_default()
    }

    async fn emit_disabled(
        &self,
        connection: &mut sqlx::PgConnection,
        subscription: &SubscriptionRow,
        reason: &str,
        failing_since: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let id = subscription.id().to_string();
        tracing::warn!(subscription = %id, reason, "subscription disabled");
        let data =
            serde_json::json!({"subscription_id": id, "url": subscription.url, "reason": reason});
        let Ok(dedup_key) = DedupKey::parse(&format!(
            "subscription.disabled:{id}:{}",
            Utc::now().timestamp_micros()
        )) else {
            return Ok(());
        };
        let event = NormalizedEvent {
            event_type: EventType::SubscriptionDisabled,
            provider_event_type: "subscription.disabled".to_owned(),
            dedup_key,
            resource: ResourceRef {
                kind: ResourceKind::Subscription,
                id: id.clone(),
                correlation_id: None,
            },
            occurred_at: failing_since.max(Utc::now()),
            data: data.clone(),
        };
        let raw = serde_json::to_vec(&data).unwrap_or_default();
        outbox::store_event(
            connection,
            &outbox::GATEWAY_PROVIDER,
            &event,
            &raw,
            self.inner.sinks.jetstream,
        )
        .await?;
        Ok(())
    }

    async fn jetstream_worker(&self, shutdown: CancellationToken) {
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
        let mut reaped = None;
        while !shutdown.is_cancelled() {
            self.reap_if_due(Sink::JetStream, &mut reaped).await;
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

/// A delivery attempted and waiting to be recorded with its batch.
struct Attempted<'b> {
    subscription: &'b SubscriptionRow,
    recording: Recording,
}

/// What a claimed batch needs, read once: subscriptions with their decrypted secrets, events with
/// their serialized payloads (errors kept, to be recorded on the deliveries they concern).
struct Batch {
    subscriptions: HashMap<uuid::Uuid, (SubscriptionRow, Result<Vec<SecretString>, String>)>,
    events: HashMap<uuid::Uuid, (StoredEvent, Result<Bytes, String>)>,
}

struct PostResult {
    status: Option<u16>,
    body: Option<String>,
    error: Option<String>,
    retry_after: Option<Duration>,
}

impl PostResult {
    fn failed(error: String) -> PostResult {
        PostResult {
            status: None,
            body: None,
            error: Some(error),
            retry_after: None,
        }
    }
}

/// Reads at most `limit` bytes of the body (lossy UTF-8), never the whole of a huge answer.
async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Option<String> {
    let mut bytes = Vec::new();
    while bytes.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(limit);
    (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned())
}

/// `delay` spread uniformly by ±`percent`%, in integer milliseconds (no float arithmetic).
fn jitter(delay: Duration, percent: u32) -> Duration {
    let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 || percent == 0 {
        return delay;
    }
    let spread = millis.saturating_mul(u64::from(percent.min(100))) / 100;
    let offset = rand::rng().random_range(0..=spread.saturating_mul(2));
    Duration::from_millis(millis.saturating_sub(spread).saturating_add(offset))
}

async fn sample_queue_metrics(pool: PgPool, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        if let Ok((depth, oldest_age)) = deliveries::queue_stats(&pool).await {
            metrics::gauge!("paygate_delivery_queue_depth").set(depth as f64);
            metrics::gauge!("paygate_delivery_oldest_due_age_seconds").set(oldest_age);
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_the_percentage_either_way() {
        for _ in 0..1000 {
            let delay = jitter(Duration::from_secs(100), 20);
            assert!(
                delay >= Duration::from_secs(80) && delay <= Duration::from_secs(120),
                "{delay:?}"
            );
        }
        assert_eq!(jitter(Duration::ZERO, 20), Duration::ZERO);
        assert_eq!(jitter(Duration::from_secs(5), 0), Duration::from_secs(5));
    }
}
