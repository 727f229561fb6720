//! Sending one delivery: pacing, signing with Standard Webhooks, the POST under the SSRF guard,
//! and what the partner's answer means.

use std::time::Duration;

use axum::body::Bytes;
use chrono::Utc;
use secrecy::ExposeSecret;

use std::time::Instant;

use super::{Attempted, Batch, Dispatcher, Keys};
use crate::delivery::headers;
use crate::delivery::signing;
use crate::delivery::ssrf;
use crate::store::deliveries;
use crate::store::deliveries::{AttemptRecord, Claimed, Outcome, Recording};
use crate::store::pace;
use crate::store::subscriptions::{SubscriptionRow, SubscriptionStatus};

impl Dispatcher {
    pub(super) async fn deliver_logged<'b>(
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
    pub(super) async fn deliver<'b>(
        &self,
        claimed: Claimed,
        batch: &'b Batch,
    ) -> Result<Option<Attempted<'b>>, sqlx::Error> {
        let pool = &self.inner.pool;
        let Some(subscription_id) = claimed.subscription_id else {
            return Ok(None);
        };
        let (Some((subscription, keys)), Some((event, payload))) = (
            batch.subscriptions.get(&subscription_id),
            batch.events.get(&claimed.event_id),
        ) else {
            return Ok(None);
        };
        if subscription.status != SubscriptionStatus::Active {
            // Disabled since it was enqueued claimed: it waits, pending, like the rest.
            deliveries::release(pool, &[claimed.delivery_id], Utc::now()).await?;
            return Ok(None);
        }
        let pace = self.inner.pacing.of(
            subscription_id,
            usize::try_from(self.inner.settings.max_concurrency_per_subscription.max(1))
                .unwrap_or(1),
        );
        match (
            batch.slots.slots.get(&claimed.delivery_id),
            batch.slots.reserved_at,
        ) {
            (Some(pace::Slot::After(wait)), Some(reserved_at)) => {
                tokio::time::sleep_until(reserved_at + *wait).await;
            }
            (Some(pace::Slot::Later(wait)), _) => {
                // Its subscription's bucket is booked beyond what a claim may wait: put it back,
                // due a little before the bucket frees up. Claimed then, it reserves the next slot
                // while that slot is still ahead and waits for it, so the schedule stays one
                // interval apart; due exactly at the slot, every round's claim latency would
                // push the bucket's next slot later (an idle bucket restarts at now), and over a
                // backlog the partner would get less than its rate.
                let lead = super::PACE_HORIZON / 2;
                let at = Utc::now()
                    + chrono::Duration::from_std(wait.saturating_sub(lead)).unwrap_or_default();
                deliveries::release(pool, &[claimed.delivery_id], at).await?;
                return Ok(None);
            }
            _ => {}
        }
        let Ok(_permit) = pace.concurrency.acquire().await else {
            return Ok(None);
        };
        let started_at = Utc::now();
        let started = Instant::now();
        let attempt = self
            .post(subscription, &event.id().to_string(), keys, payload)
            .await;
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

    /// POSTs `payload` as event `id` to `subscription`'s URL, signed with its keys and with its
    /// static headers, under the SSRF guard.
    pub(super) async fn post(
        &self,
        subscription: &SubscriptionRow,
        id: &str,
        keys: &Result<Keys, String>,
        payload: &Result<Bytes, String>,
    ) -> PostResult {
        let url = match url::Url::parse(&subscription.url) {
            Ok(url) => url,
            Err(error) => return PostResult::failed(format!("invalid url: {error}")),
        };
        if let Err(error) = ssrf::check_url(&url, &self.inner.policy) {
            return PostResult::failed(format!("{}: {error}", error.code()));
        }
        let keys = match keys {
            Ok(keys) => keys,
            Err(error) => return PostResult::failed(error.clone()),
        };
        let payload = match payload {
            Ok(payload) => payload.clone(),
            Err(error) => return PostResult::failed(error.clone()),
        };
        let signed = match signing::sign(id, Utc::now().timestamp(), &payload, &keys.secrets) {
            Ok(signed) => signed,
            Err(error) => return PostResult::failed(error.to_string()),
        };
        let mut request = self.inner.client.post(url);
        for (name, value) in &keys.headers {
            request = request.header(name, value);
        }
        let sent = request
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
            // Delta-seconds or an HTTP-date, as RFC 9110 allows.
            .and_then(|value| providers::retry_after(value, Utc::now()));
        let body = read_prefix(response, self.inner.settings.response_body_max_bytes).await;
        let error = (!(200..300).contains(&status)).then(|| format!("endpoint answered {status}"));
        PostResult {
            status: Some(status),
            body,
            error,
            retry_after,
        }
    }

    /// The current key and, during a rotation's grace period, the previous one; the static
    /// headers, checked again as they are sent.
    pub(super) fn keys(&self, subscription: &SubscriptionRow) -> Result<Keys, String> {
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
        let headers = match &subscription.headers {
            Some(sealed) => {
                let json = keyring.decrypt(sealed).map_err(|error| error.to_string())?;
                headers::validate_json(json.expose_secret())?
            }
            None => Vec::new(),
        };
        Ok(Keys { secrets, headers })
    }

    /// What follows an attempt: success, a retry at its scheduled time, or dead.
    pub(super) fn outcome(
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
}

pub(super) struct PostResult {
    pub(super) status: Option<u16>,
    pub(super) body: Option<String>,
    pub(super) error: Option<String>,
    pub(super) retry_after: Option<Duration>,
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
pub(super) async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Option<String> {
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
