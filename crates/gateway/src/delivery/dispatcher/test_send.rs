//! Test sends: one event type's catalogue example, marked `"test": true`, sent to a subscription
//! through the delivery path itself (its signing keys, both during a rotation; its static headers;
//! the SSRF guard; the request timeout), at once, with what the partner answered. Nothing is
//! stored: a test is not an event, so no delivery, attempt or reconciliation fact comes of it.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use chrono::Utc;
use providers::{EventId, EventType, ResourceKind};

use super::Dispatcher;
use crate::delivery::payload::{EventBody, ResourceBody};
use crate::store::subscriptions::SubscriptionRow;

/// What a test send sent and what came back.
#[derive(Debug)]
pub struct TestSend {
    /// The body that was sent.
    pub event: EventBody,
    /// The partner's HTTP status, when it answered.
    pub response_status: Option<u16>,
    /// The start of its answer's body.
    pub response_body: Option<String>,
    /// What went wrong (no answer, a non-2xx, a refused URL, unreadable keys).
    pub error: Option<String>,
    /// How long the POST took.
    pub latency: Duration,
}

impl Dispatcher {
    /// Sends `event_type`'s example to `subscription` now and reports the partner's answer.
    pub async fn send_test(
        &self,
        subscription: &SubscriptionRow,
        event_type: &EventType,
    ) -> TestSend {
        let now = Utc::now();
        let id = EventId::new().to_string();
        let event = EventBody {
            id: id.clone(),
            event_type: event_type.to_string(),
            provider: "paygate".to_owned(),
            provider_event_type: event_type.to_string(),
            dedup_key: format!("test:{id}"),
            resource: ResourceBody {
                kind: event_type
                    .resource_kinds()
                    .first()
                    .unwrap_or(&ResourceKind::Other)
                    .as_str()
                    .to_owned(),
                id: "test".to_owned(),
                correlation_id: None,
            },
            occurred_at: now,
            occurred_at_source: "received".to_owned(),
            received_at: now,
            data: event_type.example_data().to_json(),
            verification: None,
            confirmation: None,
            test: true,
        };
        let payload = serde_json::to_vec(&event)
            .map(Bytes::from)
            .map_err(|error| format!("cannot serialize the example: {error}"));
        let keys = self.keys(subscription);
        let started = Instant::now();
        let answer = self.post(subscription, &id, &keys, &payload).await;
        TestSend {
            event,
            response_status: answer.status,
            response_body: answer.body,
            error: answer.error,
            latency: started.elapsed(),
        }
    }
}
