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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use chrono::Utc;
use futures::future::join_all;
use secrecy::SecretString;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::config::{DeliverySettings, JetStreamSettings, Settings};
use crate::crypto::Keyring;
use crate::delivery::pacing::Pacing;
use crate::delivery::payload::EventBody;
use crate::delivery::replay;
use crate::delivery::ssrf::{self, SsrfPolicy};
use crate::jobs;
use crate::outbox::Sinks;
use crate::outbox::handoff::{HandedOver, Handoff};
use crate::store::deliveries::{self, Claimed, Recording, Sink};
use crate::store::events::{self, StoredEvent};
use crate::store::pace;
use crate::store::subscriptions::{self, SubscriptionRow, SubscriptionStatus};

/// How far ahead a claimed batch may hold rate-limit slots (at most half the claim timeout). Kept
/// short because a batch waits for its slots while holding its worker. Claims take the oldest due
/// deliveries first, so when a limited partner's backlog is at the head of the queue, a long
/// horizon lets every claim take a batch of that partner's and wait through it at the partner's
/// rate, while other partners' deliveries wait behind. Beyond the horizon, deliveries are put back
/// and the partner's due backlog is spread over the future at its rate (`deliveries::defer_due`),
/// so the head of the queue moves on to the others.
pub const PACE_HORIZON: Duration = Duration::from_millis(100);

mod publish;
mod record;
mod send;
mod test_send;

pub use test_send::TestSend;

/// Drains the outbox. Cheap to clone; clones share pacing state.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
    handoff: Option<Handoff>,
}

/// How often the fleet puts expired claims back to pending (see [`deliveries::reap_expired`]).
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

    /// Spawns the reaper of `sink`'s expired claims: a fleet job (one replica at a time, once per
    /// [`REAP_EVERY`]), so N replicas do not scan the claimed rows N times as often.
    fn spawn_reaper(&self, sink: Sink, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let pool = self.inner.pool.clone();
        let job = match sink {
            Sink::Webhook => jobs::REAP_WEBHOOK_CLAIMS,
            Sink::JetStream => jobs::REAP_JETSTREAM_CLAIMS,
        };
        tokio::spawn(async move {
            let reaper = pool.clone();
            jobs::run(
                pool,
                job,
                jobs::Schedule::every(REAP_EVERY),
                shutdown,
                move || {
                    let pool = reaper.clone();
                    async move {
                        let reaped = deliveries::reap_expired(&pool, sink).await?;
                        if reaped > 0 {
                            tracing::info!(
                                reaped,
                                sink = sink.as_str(),
                                "expired claims put back to pending"
                            );
                        }
                        Ok::<u64, sqlx::Error>(reaped)
                    }
                },
            )
            .await
        })
    }

    /// Spawns `delivery.workers` webhook workers, the JetStream worker when configured, the claim
    /// reapers, the replay worker and the metrics sampler; they stop when `shutdown` is cancelled,
    /// finishing the deliveries in hand.
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
        tasks.push(self.spawn_reaper(Sink::Webhook, shutdown.clone()));
        if self.inner.jetstream.is_some() {
            tasks.push(self.spawn_reaper(Sink::JetStream, shutdown.clone()));
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
        let mut polled: Option<Instant> = None;
        while !shutdown.is_cancelled() {
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
                let keys = self.keys(&row);
                (row.subscription_id, (row, keys))
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
        let slots = self.reserve_slots(claimed, &subscriptions).await?;
        Ok(Batch {
            subscriptions,
            events,
            slots,
        })
    }

    /// Reserves fleet-wide rate-limit slots for the batch's deliveries to rate-limited active
    /// subscriptions: one statement for the whole batch, slots in claim order.
    async fn reserve_slots(
        &self,
        claimed: &[Claimed],
        subscriptions: &HashMap<uuid::Uuid, (SubscriptionRow, Result<Keys, String>)>,
    ) -> Result<Slots, sqlx::Error> {
        let rate = |id: &uuid::Uuid| {
            subscriptions
                .get(id)
                .filter(|(row, _)| row.status == SubscriptionStatus::Active)
                .and_then(|(row, _)| row.rate_limit_per_second)
                .and_then(|rate| u32::try_from(rate).ok())
        };
        let mut wants: Vec<pace::Want> = Vec::new();
        let mut index = HashMap::new();
        for delivery in claimed {
            let Some(subscription_id) = delivery.subscription_id else {
                continue;
            };
            let Some(per_second) = rate(&subscription_id) else {
                continue;
            };
            let position = match wants
                .iter()
                .position(|w| w.subscription_id == subscription_id)
            {
                Some(position) => position,
                None => {
                    wants.push(pace::Want {
                        subscription_id,
                        wanted: 0,
                        per_second,
                    });
                    wants.len() - 1
                }
            };
            index.insert(
                delivery.delivery_id,
                (subscription_id, wants[position].wanted),
            );
            wants[position].wanted += 1;
        }
        if wants.is_empty() {
            return Ok(Slots::default());
        }
        let horizon = (self.claim_timeout() / 2).min(PACE_HORIZON);
        let grants = pace::reserve(&self.inner.pool, &wants, horizon).await?;
        let reserved_at = tokio::time::Instant::now();
        // A bucket booked beyond the horizon: the rest of its subscription's due backlog is spread
        // over the future now, so that it does not hold the head of the queue (one chunk per
        // saturated batch; `deliveries::defer_due` says why).
        for grant in &grants {
            let wanted = wants
                .iter()
                .find(|want| want.subscription_id == grant.subscription_id)
                .map_or(0, |want| want.wanted);
            if grant.granted < wanted {
                let moved =
                    deliveries::defer_due(&self.inner.pool, grant.subscription_id, grant.interval)
                        .await?;
                if moved > 0 {
                    tracing::debug!(subscription = %grant.subscription_id, moved, "saturated backlog spread over the future");
                }
            }
        }
        let grants: HashMap<uuid::Uuid, pace::Grant> = grants
            .into_iter()
            .map(|grant| (grant.subscription_id, grant))
            .collect();
        let slots = index
            .into_iter()
            .filter_map(|(delivery, (subscription, position))| {
                grants
                    .get(&subscription)
                    .map(|grant| (delivery, grant.slot(position)))
            })
            .collect();
        Ok(Slots {
            reserved_at: Some(reserved_at),
            slots,
        })
    }

    fn claim_timeout(&self) -> Duration {
        Duration::from_secs(self.inner.settings.claim_timeout_secs.max(1))
    }
}

/// A delivery attempted and waiting to be recorded with its batch.
struct Attempted<'b> {
    subscription: &'b SubscriptionRow,
    recording: Recording,
}

/// What a subscription's deliveries are sent with, decrypted once per batch: its signing keys
/// (current first; the previous one during a rotation's grace period) and its static headers.
pub(super) struct Keys {
    pub(super) secrets: Vec<SecretString>,
    pub(super) headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

/// What a claimed batch needs, read once: subscriptions with their decrypted keys, events with
/// their serialized payloads (errors kept, to be recorded on the deliveries they concern).
pub(super) struct Batch {
    subscriptions: HashMap<uuid::Uuid, (SubscriptionRow, Result<Keys, String>)>,
    events: HashMap<uuid::Uuid, (StoredEvent, Result<Bytes, String>)>,
    slots: Slots,
}

/// The rate-limit slots reserved for a batch, by delivery (deliveries to unlimited subscriptions
/// have none), counted from `reserved_at`.
#[derive(Default)]
pub(super) struct Slots {
    reserved_at: Option<tokio::time::Instant>,
    slots: HashMap<uuid::Uuid, pace::Slot>,
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
