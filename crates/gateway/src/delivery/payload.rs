//! The v1 event payload: what partners receive in a delivery and what `GET /v1/events` returns,
//! one type for both so they cannot drift.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::confirmations::Confirmation;
use crate::store::events::StoredEvent;

/// A normalized event, as partners and internal services see it (the v1 contract).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventBody {
    /// `evt_` id assigned by the gateway.
    #[schema(example = "evt_01936f0e6b7a7c3e9d1f2a3b4c5d6e7f")]
    pub id: String,
    /// Gateway taxonomy name.
    #[serde(rename = "type")]
    #[schema(example = "loan.active")]
    pub event_type: String,
    /// Provider that sent it.
    #[schema(example = "dinie")]
    pub provider: String,
    /// The provider's own event name.
    pub provider_event_type: String,
    /// Unique per provider; the provider's event identity.
    pub dedup_key: String,
    /// What the event is about.
    pub resource: ResourceBody,
    /// When it happened: per the provider, or, when the provider's payload carries no time of its
    /// own, when the gateway received it (see `occurred_at_source`).
    pub occurred_at: DateTime<Utc>,
    /// Whose time `occurred_at` is: `provider` or `received`.
    #[schema(example = "provider")]
    pub occurred_at_source: String,
    /// When the gateway stored it.
    pub received_at: DateTime<Utc>,
    /// Provider-neutral fields; money as `{amount: "12.10", currency: "BRL"}`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// How the provider's webhook was authenticated: `signature`, `credential` or `none`, with
    /// `+fetch` once the event was confirmed by reading the resource back from the provider's API
    /// (providers whose webhook authentication is weak). Absent on the gateway's own events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "credential+fetch")]
    pub verification: Option<String>,
    /// The confirmation by fetch, on events that need one (`GET /v1/events` only: a delivered
    /// event is always confirmed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<ConfirmationBody>,
    /// Present, and `true`, only on a test send (`POST /v1/subscriptions/{id}/test`): an example,
    /// not a stored event.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
}

/// Where an event's confirmation by fetch stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmationBody {
    /// `pending` (not yet published), `confirmed` (published) or `refused` (contradicted by the
    /// provider's API: never published).
    #[schema(example = "confirmed")]
    pub state: String,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Fetches tried so far.
    pub attempts: i32,
    /// The last failure to ask the provider, while pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was confirmed or refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
}

impl From<Confirmation> for ConfirmationBody {
    fn from(confirmation: Confirmation) -> ConfirmationBody {
        ConfirmationBody {
            state: confirmation.state().as_str().to_owned(),
            reason: confirmation.reason,
            attempts: confirmation.attempts,
            last_error: confirmation.last_error,
            resolved_at: confirmation.resolved_at,
        }
    }
}

/// The resource an event is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceBody {
    /// `loan`, `pix`, `charge`, ...
    pub kind: String,
    /// Its id at the provider.
    pub id: String,
    /// A provider correlation id, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

impl From<StoredEvent> for EventBody {
    fn from(event: StoredEvent) -> EventBody {
        EventBody {
            id: event.id().to_string(),
            event_type: event.event_type,
            provider: event.provider,
            provider_event_type: event.provider_event_type,
            dedup_key: event.dedup_key,
            resource: ResourceBody {
                kind: event.resource_kind,
                id: event.resource_id,
                correlation_id: event.correlation_id,
            },
            occurred_at: event.occurred_at,
            occurred_at_source: event.occurred_at_source,
            received_at: event.received_at,
            data: event.data,
            verification: event.verification,
            confirmation: None,
            test: false,
        }
    }
}
