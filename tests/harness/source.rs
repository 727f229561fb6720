//! `TestSource`: a provider the tests control, to exercise the inbound pipeline without a real one.
//!
//! Authentication: header `x-test-token` must equal the token the source was built with (compared
//! in constant time). Body: `{"events": [{"id", "type", "resource", "amount"?, "document"?}]}`;
//! anything else is "authentic but not understood" and goes to quarantine. Unknown types become
//! `testprov.unrecognized`. Money and documents go through the domain types.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use providers::{
    DedupKey, Document, EventType, InboundRequest, Money, NormalizeError, NormalizedEvent,
    ProviderName, ResourceKind, ResourceRef, VerifyError, WebhookSource,
};
use serde::Deserialize;

/// The provider name the test source registers under.
pub const PROVIDER: &str = "testprov";
/// The token `TestSource::default()` accepts.
pub const TOKEN: &str = "test-token-0123456789";

/// A test-only webhook source.
pub struct TestSource {
    token: String,
}

impl Default for TestSource {
    fn default() -> TestSource {
        TestSource {
            token: TOKEN.to_owned(),
        }
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
}

fn provider() -> ProviderName {
    ProviderName::parse(PROVIDER).expect("valid provider name")
}

#[async_trait]
impl WebhookSource for TestSource {
    fn provider(&self) -> ProviderName {
        provider()
    }

    async fn verify(
        &self,
        request: &InboundRequest<'_>,
        _now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        let presented = request
            .headers
            .get("x-test-token")
            .ok_or(VerifyError::MissingCredential)?;
        if providers::webhook::constant_time_eq(presented.as_bytes(), self.token.as_bytes()) {
            return Ok(());
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
                let event_type = event
                    .event_type
                    .parse::<EventType>()
                    .unwrap_or_else(|_| EventType::Unrecognized(provider()));
                let mut data = serde_json::Map::new();
                if let Some(amount) = event.amount {
                    data.insert(
                        "amount".into(),
                        serde_json::to_value(amount).map_err(|e| NormalizeError {
                            reason: e.to_string(),
                        })?,
                    );
                }
                if let Some(document) = event.document {
                    data.insert(
                        "document".into(),
                        serde_json::to_value(document).map_err(|e| NormalizeError {
                            reason: e.to_string(),
                        })?,
                    );
                }
                Ok(NormalizedEvent {
                    event_type,
                    provider_event_type: event.event_type,
                    dedup_key: DedupKey::parse(&event.id).map_err(|e| NormalizeError {
                        reason: e.to_string(),
                    })?,
                    resource: ResourceRef {
                        kind: ResourceKind::Loan,
                        id: event.resource,
                        correlation_id: None,
                    },
                    occurred_at: event.occurred_at.unwrap_or_else(Utc::now),
                    data: serde_json::Value::Object(data),
                })
            })
            .collect()
    }
}
