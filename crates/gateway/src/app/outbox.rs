//! The transactional outbox: storing an event and enqueueing its deliveries in one transaction.
//!
//! Every path that stores an event (inbound webhooks, operational events such as
//! `subscription.disabled`) goes through [`store_event`], so no committed event can miss the
//! deliveries of the subscriptions active at that moment, nor its JetStream publication.

use providers::{NormalizedEvent, ProviderName};
use sqlx::PgConnection;

use crate::store::events::{self, InsertOutcome};
use crate::store::{deliveries, subscriptions};

/// Where stored events fan out besides subscriptions.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sinks {
    /// Publish to NATS JetStream too.
    pub jetstream: bool,
}

/// Stores `event` unless it is a duplicate and, when new, enqueues one delivery per matching
/// active subscription (and the JetStream publication), all in the caller's transaction.
pub async fn store_event(
    connection: &mut PgConnection,
    provider: &ProviderName,
    event: &NormalizedEvent,
    raw: &[u8],
    sinks: Sinks,
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
    if sinks.jetstream {
        deliveries::enqueue_jetstream(&mut *connection, event_id.uuid(), &ordering_key).await?;
    }
    Ok(outcome)
}
