//! `TestSource`: a provider the tests control, to exercise the inbound pipeline without a real one.
//!
//! Authentication: header `x-test-token` must equal the token the source was built with (compared
//! in constant time); `x-test-delay-ms` makes verification that slow. Body: `{"events": [{"id", "type", "resource", "amount"?, "document"?}]}`;
//! anything else is "authentic but not understood" and goes to quarantine. Unknown types become
//! `testprov.unrecognized`. Each event's data is typed (`EventData`) as a real normalizer's would
//! be: `data` fields as given, the resource's id under the type's id field, `amount` as the type's
//! money (a loan's `net_amount`; a Pix or charge without one gets 0.00), `document` as a customer's
//! or a Pix payer's; `kind` sets the resource kind.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use providers::{
    CredentialStore, DedupKey, Document, EventData, EventType, InboundRequest, Money,
    NormalizeError, NormalizedEvent, ProviderError, ProviderName, RegisteredWebhook, ResourceKind,
    ResourceRef, VerifyError, WebhookCredential, WebhookRegistration, WebhookSource,
};
use serde::Deserialize;

/// The provider name the test source registers under.
pub const PROVIDER: &str = "testprov";
/// The token `TestSource::default()` accepts.
pub const TOKEN: &str = "test-token-0123456789";

/// Markers of slow verifications in progress (see `x-test-marker`).
static SLOW_IN_FLIGHT: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
/// Markers of events the source now understands (see `WireEvent::understood_after`).
static UNDERSTOOD: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// From now on, events marked `understood_after: marker` normalize instead of being refused.
pub fn understand(marker: &str) {
    UNDERSTOOD
        .lock()
        .expect("understood set")
        .insert(marker.to_owned());
}

/// Whether a slow verification with this `x-test-marker` is in progress.
pub fn is_in_flight(marker: &str) -> bool {
    SLOW_IN_FLIGHT.lock().expect("marker set").contains(marker)
}

/// A test-only webhook source.
pub struct TestSource {
    token: String,
    credentials: Option<Arc<dyn CredentialStore>>,
}

impl Default for TestSource {
    fn default() -> TestSource {
        TestSource {
            token: TOKEN.to_owned(),
            credentials: None,
        }
    }
}

impl TestSource {
    /// A source that also accepts the credentials the gateway stored for it (registrations and
    /// rotations made through `/v1/providers/testprov/webhooks`).
    pub fn with_store(credentials: Arc<dyn CredentialStore>) -> TestSource {
        TestSource {
            token: TOKEN.to_owned(),
            credentials: Some(credentials),
        }
    }
}

/// Self-registration for the test provider: every call hands out a fresh token.
#[derive(Default)]
pub struct TestRegistration {
    issued: AtomicU32,
}

impl TestRegistration {
    fn next(
        &self,
        registration_id: &str,
        url: String,
        previous_secret_expires_at: Option<DateTime<Utc>>,
    ) -> RegisteredWebhook {
        let n = self.issued.fetch_add(1, Ordering::SeqCst);
        RegisteredWebhook {
            registration_id: registration_id.to_owned(),
            path: String::new(),
            url,
            event_types: vec!["*".to_owned()],
            secret: WebhookCredential::new(format!("registered-token-{n}")),
            attributes: BTreeMap::new(),
            previous_secret_expires_at,
        }
    }
}

#[async_trait]
impl WebhookRegistration for TestRegistration {
    async fn register(
        &self,
        public_base_url: &str,
    ) -> Result<Vec<RegisteredWebhook>, ProviderError> {
        Ok(vec![self.next(
            "reg_1",
            format!("{public_base_url}/webhooks/{PROVIDER}"),
            None,
        )])
    }

    async fn rotate(
        &self,
        registration_id: &str,
        grace: Duration,
    ) -> Result<RegisteredWebhook, ProviderError> {
        let until = Utc::now() + chrono::Duration::from_std(grace).unwrap_or_default();
        Ok(self.next(
            registration_id,
            format!("http://rotated/webhooks/{PROVIDER}"),
            Some(until),
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    events: Vec<WireEvent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEvent {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    resource: String,
    #[serde(default)]
    amount: Option<Money>,
    #[serde(default)]
    document: Option<Document>,
    #[serde(default)]
    occurred_at: Option<DateTime<Utc>>,
    /// Not understood (quarantined) until a test calls [`understand`] with this marker: the code
    /// "learns" to read it, for replays of quarantined webhooks.
    #[serde(default)]
    understood_after: Option<String>,
    /// Extra provider-neutral fields copied into the event's data as given (reconciliation tests
    /// use the shapes the real normalizers produce).
    #[serde(default)]
    data: Option<serde_json::Map<String, serde_json::Value>>,
    /// The resource kind (default `loan`).
    #[serde(default)]
    kind: Option<ResourceKind>,
}

fn provider() -> ProviderName {
    ProviderName::parse(PROVIDER).expect("valid provider name")
}

#[async_trait]
impl WebhookSource for TestSource {
    fn provider(&self) -> ProviderName {
        provider()
    }

    fn authentication(&self) -> providers::WebhookAuthentication {
        providers::WebhookAuthentication::Credential
    }

    async fn verify(
        &self,
        request: &InboundRequest<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        // A slow verifier, for timeout and shutdown tests; `x-test-marker` names it while it runs.
        let delay = request
            .headers
            .get("x-test-delay-ms")
            .and_then(|v| v.to_str().ok()?.parse().ok());
        if let Some(delay) = delay {
            let marker = request
                .headers
                .get("x-test-marker")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if let Some(marker) = &marker {
                SLOW_IN_FLIGHT
                    .lock()
                    .expect("marker set")
                    .insert(marker.clone());
            }
            tokio::time::sleep(Duration::from_millis(delay)).await;
            if let Some(marker) = &marker {
                SLOW_IN_FLIGHT.lock().expect("marker set").remove(marker);
            }
        }
        let presented = request
            .headers
            .get("x-test-token")
            .ok_or(VerifyError::MissingCredential)?;
        if providers::webhook::constant_time_eq(presented.as_bytes(), self.token.as_bytes()) {
            return Ok(());
        }
        if let Some(store) = &self.credentials {
            let stored = store
                .credentials(&provider(), request.path)
                .await
                .map_err(|error| VerifyError::Unavailable(error.to_string()))?;
            let accepted = stored
                .iter()
                .filter(|c| c.is_valid_at(now))
                .any(|credential| {
                    providers::webhook::constant_time_eq(
                        presented.as_bytes(),
                        credential.secret.expose_secret().as_bytes(),
                    )
                });
            if accepted {
                return Ok(());
            }
        }
        Err(VerifyError::InvalidSignature)
    }

    fn normalize(
        &self,
        request: &InboundRequest<'_>,
    ) -> Result<Vec<NormalizedEvent>, NormalizeError> {
        let envelope: Envelope =
            serde_json::from_slice(request.body).map_err(|error| NormalizeError {
                reason: format!("not a test envelope: {error}"),
            })?;
        envelope
            .events
            .into_iter()
            .map(|event| {
                if let Some(marker) = &event.understood_after
                    && !UNDERSTOOD.lock().expect("understood set").contains(marker)
                {
                    return Err(NormalizeError {
                        reason: format!("not understood yet ({marker})"),
                    });
                }
                let event_type = event
                    .event_type
                    .parse::<EventType>()
                    .unwrap_or_else(|_| EventType::Unrecognized(provider()));
                // An event given no time has none of its own: the gateway uses its time of receipt.
                let data = typed_data(
                    &event_type,
                    &event,
                    event.occurred_at.unwrap_or_else(Utc::now),
                )?;
                Ok(NormalizedEvent {
                    event_type,
                    provider_event_type: event.event_type,
                    dedup_key: DedupKey::parse(&event.id).map_err(|e| NormalizeError {
                        reason: e.to_string(),
                    })?,
                    resource: ResourceRef {
                        kind: event.kind.unwrap_or(ResourceKind::Loan),
                        id: event.resource,
                        correlation_id: None,
                    },
                    occurred_at: event.occurred_at,
                    data,
                })
            })
            .collect()
    }
}

/// The event's data in the shape of its type, as a real normalizer would build it: the extra
/// `data` fields as given, the resource's id under the type's id field, `amount` as the type's
/// money (a loan's `net_amount`), `document` as a customer's document or a Pix payer's.
fn typed_data(
    event_type: &EventType,
    event: &WireEvent,
    occurred_at: DateTime<Utc>,
) -> Result<EventData, NormalizeError> {
    let refused = |error: &dyn std::fmt::Display| NormalizeError {
        reason: error.to_string(),
    };
    let mut data = event.data.clone().unwrap_or_default();
    let type_name = event_type.as_str();
    let family = type_name.split('.').next().unwrap_or_default();
    let mut put = |key: &str, value: serde_json::Value| {
        data.entry(key.to_owned()).or_insert(value);
    };
    let resource = serde_json::Value::String(event.resource.clone());
    let amount = event
        .amount
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| refused(&e))?;
    let document = event
        .document
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| refused(&e))?;
    match family {
        "loan" => {
            put("loan_id", resource);
            if let Some(amount) = amount {
                put("net_amount", amount);
            }
        }
        "customer" => {
            put("customer_id", resource);
            if let Some(document) = document {
                put("document", document);
            }
        }
        "pix" | "charge" => {
            put("end_to_end_id", resource);
            put(
                "received_at",
                serde_json::to_value(occurred_at).map_err(|e| refused(&e))?,
            );
            // A payment always has an amount: a test that gives none gets zero.
            put(
                "amount",
                amount.unwrap_or_else(|| serde_json::json!({"amount": "0.00", "currency": "BRL"})),
            );
            if let Some(document) = document {
                put(
                    "payer",
                    serde_json::json!({"document": {"kind": "cpf", "masked": false, "value": document}}),
                );
            }
        }
        _ => {}
    }
    EventData::from_stored(event_type, serde_json::Value::Object(data)).map_err(|e| refused(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(body: &str) -> Result<Vec<NormalizedEvent>, NormalizeError> {
        let headers = http::HeaderMap::new();
        TestSource::default().normalize(&InboundRequest {
            path: "",
            headers: &headers,
            body: body.as_bytes(),
        })
    }

    #[test]
    fn a_pix_given_no_amount_is_typed_with_a_zero_amount_and_its_resource_as_end_to_end_id() {
        let events =
            normalized(r#"{"events": [{"id": "p1", "type": "pix.received", "resource": "E1"}]}"#)
                .expect("typed");
        assert_eq!(events[0].data.end_to_end_id(), Some("E1"));
        assert_eq!(
            events[0]
                .data
                .amount()
                .map(|money| money.amount().to_string()),
            Some("0.00".to_owned())
        );
    }
}
