//! Recording a batch's attempts in one transaction: retries on the schedule with jitter, dead
//! letters, and disabling endpoints that answer 410 or keep failing (`subscription.disabled`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use providers::{
    DedupKey, EventData, EventType, NormalizedEvent, ResourceKind, ResourceRef,
    SubscriptionDisabledData,
};
use rand::Rng;

use std::collections::HashSet;

use super::{Attempted, Dispatcher};
use crate::outbox;
use crate::store::deliveries::{self, Outcome, Recording};
use crate::store::subscriptions::{self, SubscriptionRow};

impl Dispatcher {
    /// Records a batch's attempts in one transaction: every delivery still owned moves on, each
    /// subscription with a success is healthy again, and failures extend their subscription's
    /// failure streak (disabling it after a 410 or a streak too long).
    pub(super) async fn record(&self, attempted: &[Attempted<'_>]) -> Result<(), sqlx::Error> {
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
    pub(super) fn delay_before(
        &self,
        attempt: usize,
        retry_after: Option<Duration>,
    ) -> chrono::Duration {
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

    pub(super) async fn emit_disabled(
        &self,
        connection: &mut sqlx::PgConnection,
        subscription: &SubscriptionRow,
        reason: &str,
        failing_since: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let id = subscription.id().to_string();
        tracing::warn!(subscription = %id, reason, "subscription disabled");
        let data = EventData::SubscriptionDisabled(SubscriptionDisabledData {
            reason: reason.to_owned(),
            subscription_id: subscription.id(),
            url: subscription.url.clone(),
        });
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
            occurred_at: Some(failing_since.max(Utc::now())),
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
}

/// `delay` spread uniformly by ±`percent`%, in integer milliseconds (no float arithmetic).
pub(super) fn jitter(delay: Duration, percent: u32) -> Duration {
    let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 || percent == 0 {
        return delay;
    }
    let spread = millis.saturating_mul(u64::from(percent.min(100))) / 100;
    let offset = rand::rng().random_range(0..=spread.saturating_mul(2));
    Duration::from_millis(millis.saturating_sub(spread).saturating_add(offset))
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
