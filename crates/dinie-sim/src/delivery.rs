//! Webhook delivery: Standard Webhooks v1 signatures (every secret valid at send time, so two
//! `v1,` signatures during a rotation), the receiver's answer within the delivery timeout, retries
//! with exponential backoff keeping the same `webhook-id`, and the delivery fault knobs
//! (duplicates, reordering, delay, a wrong secret).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use tokio::sync::mpsc;

use crate::model::EmittedEvent;
use crate::{DeliveryAttempt, DeliveryFaults, Sim};

/// One event to deliver to one endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) event: Arc<EmittedEvent>,
    pub(crate) endpoint_id: String,
}

/// Receives jobs and delivers them, applying the delivery faults.
pub(crate) async fn dispatch(sim: Arc<Sim>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let faults = sim.knobs.lock().await.delivery.clone();
        let mut batch = vec![first];
        if faults.reorder_window_ms > 0 {
            let window = tokio::time::sleep(Duration::from_millis(faults.reorder_window_ms));
            tokio::pin!(window);
            loop {
                tokio::select! {
                    () = &mut window => break,
                    next = jobs.recv() => match next {
                        Some(job) => batch.push(job),
                        None => break,
                    },
                }
            }
            batch.reverse();
        }
        tokio::spawn(deliver_batch(sim.clone(), batch, faults));
    }
}

/// Delivers a batch in order (each job with its duplicates), after the configured delay.
async fn deliver_batch(sim: Arc<Sim>, batch: Vec<Job>, faults: DeliveryFaults) {
    if faults.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.delay_ms)).await;
    }
    for job in batch {
        let copies = usize::try_from(faults.duplicates).unwrap_or(0);
        sim.pending_deliveries.fetch_add(copies, Ordering::SeqCst);
        let deliveries = (0..=copies).map(|_| deliver_with_retries(sim.clone(), job.clone()));
        futures::future::join_all(deliveries).await;
    }
}

/// Delivers until the receiver answers 2xx or the attempts run out.
async fn deliver_with_retries(sim: Arc<Sim>, job: Job) {
    let mut delay = sim.config.delivery_retry_base;
    for attempt in 1..=sim.config.delivery_max_attempts.max(1) {
        match deliver_once(&sim, &job, attempt).await {
            Outcome::Delivered | Outcome::Gone => break,
            Outcome::Failed => {}
        }
        if attempt < sim.config.delivery_max_attempts {
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
    }
    sim.pending_deliveries.fetch_sub(1, Ordering::SeqCst);
}

enum Outcome {
    Delivered,
    Failed,
    Gone,
}

/// Signs `"{id}.{timestamp}.{body}"` with each secret and joins the `v1,` signatures with spaces.
pub(crate) fn signature_header(
    secrets: &[String],
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Option<String> {
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let signer = standardwebhooks::Webhook::new(secret).ok()?;
        signatures.push(signer.sign(webhook_id, timestamp, body).ok()?);
    }
    Some(signatures.join(" "))
}

async fn deliver_once(sim: &Sim, job: &Job, attempt: u32) -> Outcome {
    let now = sim.now();
    let endpoint = {
        let state = sim.state.lock().await;
        state
            .endpoints
            .iter()
            .find(|endpoint| endpoint.id == job.endpoint_id && endpoint.status == "active")
            .map(|endpoint| (endpoint.url.clone(), endpoint.signing_secrets(now)))
    };
    let Some((url, mut secrets)) = endpoint else {
        return Outcome::Gone;
    };
    let wrong_secret = {
        let mut knobs = sim.knobs.lock().await;
        match knobs.delivery.wrong_secret_times {
            0 => false,
            _ => {
                knobs.delivery.wrong_secret_times -= 1;
                true
            }
        }
    };
    if wrong_secret {
        let mut random = [0_u8; 32];
        rand::rng().fill_bytes(&mut random);
        secrets = vec![format!("whsec_{}", STANDARD.encode(random))];
    }
    let timestamp = now.timestamp();
    let Some(signature) = signature_header(&secrets, &job.event.id, timestamp, &job.event.body)
    else {
        return Outcome::Gone;
    };
    let result = sim
        .http
        .post(&url)
        .header("content-type", "application/json")
        .header("user-agent", "Dinie-Webhooks/2026-03-01 (simulator)")
        .header("webhook-id", &job.event.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(job.event.body.clone())
        .send()
        .await;
    let status = result.ok().map(|response| response.status().as_u16());
    sim.knobs.lock().await.attempts.push(DeliveryAttempt {
        event_id: job.event.id.clone(),
        event_type: job.event.event_type.clone(),
        endpoint_id: job.endpoint_id.clone(),
        attempt,
        status,
        wrong_secret,
    });
    match status {
        Some(status) if (200..300).contains(&status) => Outcome::Delivered,
        _ => Outcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use crate::delivery::signature_header;

    #[test]
    fn signatures_match_the_standard_webhooks_test_vector() {
        let header = signature_header(
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            header.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn two_secrets_give_two_space_separated_signatures() {
        let header = signature_header(
            &[
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
                "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".to_owned(),
            ],
            "msg_1",
            1,
            b"{}",
        )
        .unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|part| part.starts_with("v1,")));
        assert_ne!(parts[0], parts[1]);
    }
}
