//! The transactional outbox: storing an event and enqueueing its deliveries in one transaction.
//!
//! Every path that stores an event (inbound webhooks, operational events such as
//! `subscription.disabled`) goes through [`store_event`], so no committed event can miss the
//! deliveries of the subscriptions active at that moment, nor its JetStream publication, nor its
//! effect on reconciliation.

use std::sync::Arc;

use providers::{NormalizedEvent, ProviderName};
use sqlx::PgConnection;

use crate::config::{ReconciliationSettings, Settings};
use crate::reconcile::live;
use crate::store::events::{self, InsertOutcome};
use crate::store::{deliveries, subscriptions};

/// The gateway's own provider name, under which it stores its operational events
/// (`subscription.disabled`, `reconciliation.*`).
pub const GATEWAY_PROVIDER: ProviderName = ProviderName::from_static("paygate");

/// Where stored events go besides subscriptions.
#[derive(Debug, Clone, Default)]
pub struct Sinks {
    /// Publish to NATS JetStream too.
    pub jetstream: bool,
    /// Reconcile live with these settings (`None` for the gateway's own operational events).
    pub reconciliation: Option<Arc<ReconciliationSettings>>,
}

impl Sinks {
    /// The sinks the configuration asks for.
    pub fn from_settings(settings: &Settings) -> Sinks {
        Sinks {
            jetstream: !settings.jetstream.url.is_empty(),
            reconciliation: settings
                .reconciliation
                .enabled
                .then(|| Arc::new(settings.reconciliation.clone())),
        }
    }
}

/// Stores `event` unless it is a duplicate and, when new, enqueues one delivery per matching
/// active subscription (and the JetStream publication) and reconciles it, all in the caller's
/// transaction.
pub async fn store_event(
    connection: &mut PgConnection,
    provider: &ProviderName,
    event: &NormalizedEvent,
    raw: &[u8],
    sinks: &Sinks,
) -> Result<InsertOutcome, sqlx::Error> {
    let outcome =
        store_and_fan_out(&mut *connection, provider, event, raw, sinks.jetstream).await?;
    if let (InsertOutcome::Inserted(_), Some(settings)) = (outcome, &sinks.reconciliation) {
        live::on_event(&mut *connection, provider, event, settings, sinks.jetstream).await?;
    }
    Ok(outcome)
}

/// [`store_event`] without reconciliation: for the gateway's own operational events (which
/// reconciliation itself emits).
pub async fn store_and_fan_out(
    connection: &mut PgConnection,
    provider: &ProviderName,
    event: &NormalizedEvent,
    raw: &[u8],
    jetstream: bool,
) -> Result<InsertOutcome, sqlx::Error> {
    let outcome = events::insert(&mut *connection, provider, event, raw).await?;
    let InsertOutcome::Inserted(event_id) = outcome else {
        return Ok(outcome);
    };
    let event_type = event.event_type.to_string();
    let ordering_key = format!("{}:{}", event.resource.kind.as_str(), event.resource.id);
    let matching = subscriptions::matching(
        &mut *connection,
        &event_type,
        provider.as_str(),
        event.resource.kind.as_str(),
    )
    .await?;
    deliveries::enqueue_webhooks(&mut *connection, event_id.uuid(), &ordering_key, &matching)
        .await?;
    if jetstream {
        deliveries::enqueue_jetstream(&mut *connection, event_id.uuid(), &ordering_key).await?;
    }
    Ok(outcome)
}
