//! The transactional outbox: storing an event and enqueueing its deliveries in one transaction.
//!
//! Every path that stores events (inbound webhooks, a batch at a time; operational events such as
//! `subscription.disabled` and `reconciliation.*`) goes through [`store_events`] or
//! [`store_event`], so no committed event can miss the deliveries of the subscriptions active at
//! that moment, nor its JetStream publication.
//!
//! # Layout
//! - `handoff`: deliveries enqueued claimed, handed to this process's dispatcher in memory.

use std::sync::Arc;
use std::time::Duration;

use providers::{NormalizedEvent, ProviderName};
use sqlx::PgConnection;

use crate::config::{ReconciliationSettings, Settings};
use crate::store::confirmations;
use crate::store::deliveries::{self, Claimed, NewDelivery, Sink};
use crate::store::events::{self, InsertOutcome, NewEvent};
use crate::store::subscriptions;

pub mod handoff;

use handoff::{Handoff, Reservation};

/// The gateway's own provider name, under which it stores its operational events
/// (`subscription.disabled`, `reconciliation.*`).
pub const GATEWAY_PROVIDER: ProviderName = ProviderName::from_static("paygate");

/// Where stored events go besides subscriptions.
#[derive(Debug, Clone, Default)]
pub struct Sinks {
    /// Publish to NATS JetStream too.
    pub jetstream: bool,
    /// Reconcile live with these settings (`None` for the gateway's own operational events). The
    /// outbox does not reconcile: the ingest pipeline does, with these settings.
    pub reconciliation: Option<Arc<ReconciliationSettings>>,
    /// This process's dispatcher: deliveries are enqueued claimed and handed to it in memory after
    /// the caller's commit ([`Stored::handover`]), and it is woken once events have committed.
    pub handoff: Option<Handoff>,
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
            handoff: None,
        }
    }
}

/// What [`store_events`] did.
#[derive(Debug)]
#[must_use = "deliveries enqueued claimed wait for their claim to expire unless handed over"]
pub struct Stored {
    /// One per item, in order.
    pub outcomes: Vec<InsertOutcome>,
    /// Deliveries enqueued claimed for this process's dispatcher: hand them over once the
    /// transaction has committed (dropped instead, their room is freed and, if the rows did
    /// commit, their claims expire and the reaper puts them back).
    pub handover: Option<Handover>,
}

/// Deliveries enqueued claimed, to hand to the dispatcher after the commit.
#[derive(Debug)]
pub struct Handover {
    reservation: Reservation,
    deliveries: Vec<Claimed>,
}

impl Handover {
    /// Hands the deliveries to the dispatcher; call it after the transaction committed.
    pub fn hand_over(self) {
        self.reservation.hand_over(self.deliveries);
    }
}

/// Stores `event` unless it is a duplicate (whichever it was, nothing more to do for the caller)
/// and, when new, enqueues one delivery per matching
/// active subscription (and the JetStream publication), all in the caller's transaction. The
/// deliveries are enqueued pending: a lone event's caller hands nothing over.
pub async fn store_event(
    connection: &mut PgConnection,
    provider: &ProviderName,
    event: &NormalizedEvent,
    raw: &[u8],
    jetstream: bool,
) -> Result<(), sqlx::Error> {
    store_and_fan_out_many(
        connection,
        &[NewEvent {
            provider,
            event,
            raw,
            verification: None,
            confirm: false,
        }],
        jetstream,
        None,
    )
    .await?;
    Ok(())
}

/// [`store_event`] for many events at once (group commit of inbound webhooks): one statement
/// inserts the events, one finds every new event's subscriptions, one enqueues all deliveries.
/// Outcomes are in the items' order. With `sinks.handoff`, deliveries are enqueued claimed as far
/// as it has room: the caller hands them over after its commit ([`Stored::handover`]).
/// Reconciliation is the caller's (the ingest pipeline reconciles what this stored).
pub async fn store_events(
    connection: &mut PgConnection,
    items: &[NewEvent<'_>],
    sinks: &Sinks,
) -> Result<Stored, sqlx::Error> {
    let (outcomes, handover) =
        store_and_fan_out_many(connection, items, sinks.jetstream, sinks.handoff.as_ref()).await?;
    Ok(Stored { outcomes, handover })
}

/// Stores the gateway's own operational events (`reconciliation.*`), each with its data as its
/// raw body, under [`GATEWAY_PROVIDER`], in the caller's transaction.
pub async fn store_own_events(
    connection: &mut PgConnection,
    events: &[NormalizedEvent],
    jetstream: bool,
) -> Result<(), sqlx::Error> {
    for event in events {
        let raw = serde_json::to_vec(&event.data).unwrap_or_default();
        store_event(&mut *connection, &GATEWAY_PROVIDER, event, &raw, jetstream).await?;
    }
    Ok(())
}

async fn store_and_fan_out_many(
    connection: &mut PgConnection,
    items: &[NewEvent<'_>],
    jetstream: bool,
    handoff: Option<&Handoff>,
) -> Result<(Vec<InsertOutcome>, Option<Handover>), sqlx::Error> {
    let outcomes = events::insert_many(&mut *connection, items).await?;
    let new: Vec<(uuid::Uuid, &NewEvent<'_>)> = outcomes
        .iter()
        .zip(items)
        .filter_map(|(outcome, item)| match outcome {
            InsertOutcome::Inserted(id) => Some((id.uuid(), item)),
            InsertOutcome::Duplicate(_) => None,
        })
        .collect();
    // Events waiting for a confirmation by fetch are stored, not published: the confirmer fans
    // them out once the provider's API agrees (`ingest::confirm`).
    let waiting: Vec<(uuid::Uuid, &str)> = new
        .iter()
        .filter(|(_, item)| item.confirm)
        .map(|(id, item)| (*id, item.provider.as_str()))
        .collect();
    confirmations::insert_pending(&mut *connection, &waiting).await?;
    let publish: Vec<(uuid::Uuid, &ProviderName, &NormalizedEvent)> = new
        .iter()
        .filter(|(_, item)| !item.confirm)
        .map(|(id, item)| (*id, item.provider, item.event))
        .collect();
    let handover = fan_out(connection, &publish, jetstream, handoff).await?;
    Ok((outcomes, handover))
}

/// Enqueues the deliveries of events already stored (one per matching active subscription, and
/// the JetStream publication), in the caller's transaction: the second half of storing an event,
/// done at once for most events and after its confirmation by fetch for the others.
pub async fn fan_out(
    connection: &mut PgConnection,
    new: &[(uuid::Uuid, &ProviderName, &NormalizedEvent)],
    jetstream: bool,
    handoff: Option<&Handoff>,
) -> Result<Option<Handover>, sqlx::Error> {
    if new.is_empty() {
        return Ok(None);
    }
    let events: Vec<(&ProviderName, &NormalizedEvent)> = new
        .iter()
        .map(|(_, provider, event)| (*provider, *event))
        .collect();
    let matching = subscriptions::matching_many(&mut *connection, &events).await?;
    // Ordered subscriptions keep going through the claim statement, which keeps their order.
    let unordered = matching.iter().filter(|m| !m.ordered).count();
    let reservation = handoff
        .map(|handoff| handoff.reserve(unordered))
        .filter(|reservation| !reservation.is_empty());
    let mut room = reservation.as_ref().map_or(0, Reservation::len);
    let mut matching = matching.into_iter().peekable();
    let mut rows = Vec::with_capacity(new.len());
    for (index, (event_id, _, event)) in new.iter().enumerate() {
        let ordering_key = format!("{}:{}", event.resource.kind.as_str(), event.resource.id);
        while let Some(to) = matching.next_if(|m| m.event == index) {
            let claimed = !to.ordered && room > 0;
            room -= usize::from(claimed);
            rows.push(NewDelivery {
                sink: Sink::Webhook,
                subscription_id: Some(to.subscription_id),
                event_id: *event_id,
                ordering_key: ordering_key.clone(),
                claimed,
            });
        }
        if jetstream {
            rows.push(NewDelivery {
                sink: Sink::JetStream,
                subscription_id: None,
                event_id: *event_id,
                ordering_key,
                claimed: false,
            });
        }
    }
    let claim_timeout = handoff.map_or(Duration::ZERO, Handoff::claim_timeout);
    let ids = deliveries::enqueue(&mut *connection, &rows, claim_timeout).await?;
    let handover = reservation.map(|reservation| Handover {
        reservation,
        deliveries: rows
            .iter()
            .zip(ids)
            .filter(|(row, _)| row.claimed)
            .map(|(row, delivery_id)| Claimed {
                delivery_id,
                subscription_id: row.subscription_id,
                event_id: row.event_id,
                attempts: 0,
            })
            .collect(),
    });
    Ok(handover)
}
