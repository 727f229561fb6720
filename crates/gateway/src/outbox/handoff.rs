//! The hand-off of deliveries from the inbound path to this process's dispatcher, in memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::DeliverySettings;
use crate::store::deliveries::Claimed;

/// Deliveries claimed as they are enqueued by this process's inbound path and handed to its own
/// dispatcher in memory once their transaction commits: no claim statement, no poll wait, and one
/// row version fewer per delivery than `pending` → claimed → recorded.
///
/// Safe as the outbox is: the rows are committed (`delivering`, claimed for the claim timeout)
/// before anything is handed over, so a process that dies holding them only delays them until
/// the reaper puts them back to pending. Bounded: at most `capacity` deliveries are in hand at
/// once; beyond that, and for ordered subscriptions (whose order the claim statement keeps),
/// rows are enqueued `pending` and claimed as before. A batch held longer than half the claim
/// timeout (a slow partner) is put back to pending rather than delivered late, and batches still
/// in hand at shutdown are put back too.
///
/// It is also how the inbound path wakes an idle worker once any deliveries have committed
/// ([`Handoff::wake`]), so pending ones too leave at once instead of at the next poll (commits
/// made by other replicas are still found by polling).
#[derive(Clone)]
pub struct Handoff {
    inner: Arc<HandoffInner>,
}

struct HandoffInner {
    sender: tokio::sync::mpsc::UnboundedSender<HandedOver>,
    receiver: std::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<HandedOver>>,
    room: Arc<tokio::sync::Semaphore>,
    batch_size: usize,
    claim_timeout: Duration,
    /// One permit is kept when no worker waits, so no signal is lost between a worker's empty
    /// claim and its wait.
    wakeup: tokio::sync::Notify,
}

impl std::fmt::Debug for Handoff {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Handoff")
            .field("room", &self.inner.room.available_permits())
            .finish_non_exhaustive()
    }
}

/// Deliveries handed over together (at most a claim batch), holding their room in the handoff.
pub(crate) struct HandedOver {
    pub(crate) deliveries: Vec<Claimed>,
    pub(crate) claimed_at: Instant,
    _room: tokio::sync::OwnedSemaphorePermit,
}

/// Room reserved in a [`Handoff`] for deliveries being enqueued claimed; dropped unused (the
/// transaction failed), the room is free again.
#[derive(Debug)]
pub struct Reservation {
    handoff: Handoff,
    room: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Handoff {
    /// A handoff for a dispatcher with these settings: room for four claim batches per worker,
    /// batched as `settings.batch_size`, each delivery claimed for `settings.claim_timeout_secs`.
    pub fn new(settings: &DeliverySettings) -> Handoff {
        let capacity = settings
            .workers
            .max(1)
            .saturating_mul(settings.batch_size.max(1))
            .saturating_mul(4);
        Handoff::with_capacity(settings, usize::try_from(capacity).unwrap_or(usize::MAX))
    }

    /// [`Handoff::new`] with room for `capacity` deliveries.
    pub fn with_capacity(settings: &DeliverySettings, capacity: usize) -> Handoff {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        Handoff {
            inner: Arc::new(HandoffInner {
                sender,
                receiver: std::sync::Mutex::new(receiver),
                room: Arc::new(tokio::sync::Semaphore::new(capacity)),
                batch_size: usize::try_from(settings.batch_size.max(1)).unwrap_or(1),
                claim_timeout: Duration::from_secs(settings.claim_timeout_secs.max(1)),
                wakeup: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Wakes one idle worker (or the next to wait): deliveries have committed.
    pub fn wake(&self) {
        self.inner.wakeup.notify_one();
    }

    /// Waits for [`Handoff::wake`].
    pub(crate) async fn woken(&self) {
        self.inner.wakeup.notified().await;
    }

    /// How long a delivery enqueued claimed stays claimed.
    pub fn claim_timeout(&self) -> Duration {
        self.inner.claim_timeout
    }

    /// Reserves room for up to `wanted` deliveries: all of it, some, or none when the dispatcher
    /// is that far behind.
    pub fn reserve(&self, wanted: usize) -> Reservation {
        let available = self.inner.room.available_permits().min(wanted);
        let room = u32::try_from(available).ok().and_then(|permits| {
            (permits > 0)
                .then(|| self.inner.room.clone().try_acquire_many_owned(permits).ok())
                .flatten()
        });
        Reservation {
            handoff: self.clone(),
            room,
        }
    }

    /// Stops taking deliveries (from now on they are enqueued pending) and returns those handed
    /// over and not taken, for the caller to put back. For shutdown, once the dispatcher stopped;
    /// a batch whose transaction was still running then keeps its claim until the reaper.
    pub(crate) fn close(&self) -> Vec<Claimed> {
        self.inner.room.close();
        std::iter::from_fn(|| self.take())
            .flat_map(|handed| handed.deliveries)
            .collect()
    }

    /// The next batch handed over, if any; wakes another worker when more are waiting.
    pub(crate) fn take(&self) -> Option<HandedOver> {
        let mut receiver = self
            .inner
            .receiver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let taken = receiver.try_recv().ok();
        if taken.is_some() && !receiver.is_empty() {
            self.wake();
        }
        taken
    }
}

impl Reservation {
    /// How many deliveries may be enqueued claimed.
    pub fn len(&self) -> usize {
        self.room.as_ref().map_or(0, |room| room.num_permits())
    }

    /// Whether no delivery may be enqueued claimed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands the deliveries enqueued claimed (at most [`Reservation::len`]) to the dispatcher,
    /// in claim-sized batches. Call it once their transaction has committed, then
    /// [`Handoff::wake`] a worker.
    pub fn hand_over(self, deliveries: Vec<Claimed>) {
        let Some(mut room) = self.room else {
            return;
        };
        let inner = &self.handoff.inner;
        let claimed_at = Instant::now();
        let send = |deliveries: Vec<Claimed>, room| {
            // The receiver lives as long as the handoff: sending cannot fail.
            let _ = inner.sender.send(HandedOver {
                deliveries,
                claimed_at,
                _room: room,
            });
        };
        let mut deliveries = deliveries;
        while !deliveries.is_empty() {
            let rest = match deliveries.len() > inner.batch_size {
                true => deliveries.split_off(inner.batch_size),
                false => Vec::new(),
            };
            match (!rest.is_empty())
                .then(|| room.split(deliveries.len()))
                .flatten()
            {
                Some(held) => {
                    send(deliveries, held);
                    deliveries = rest;
                }
                None => {
                    // The last batch (or room that cannot be split): all that is left, together.
                    deliveries.extend(rest);
                    send(deliveries, room);
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn claimed(n: u128) -> Claimed {
        Claimed {
            delivery_id: uuid::Uuid::from_u128(n),
            subscription_id: Some(uuid::Uuid::from_u128(1000 + n)),
            event_id: uuid::Uuid::from_u128(2000 + n),
            attempts: 0,
        }
    }

    fn handoff(capacity: usize, batch_size: u32) -> Handoff {
        let mut settings = Settings::defaults().expect("defaults").delivery;
        settings.batch_size = batch_size;
        Handoff::with_capacity(&settings, capacity)
    }

    #[test]
    fn a_handoff_reserves_only_the_room_it_has_and_frees_it_when_batches_are_dropped() {
        let handoff = handoff(5, 2);
        let first = handoff.reserve(3);
        assert_eq!(first.len(), 3);
        assert_eq!(handoff.reserve(10).len(), 2, "only the room left");
        drop(first);
        assert_eq!(
            handoff.reserve(4).len(),
            4,
            "an unused reservation frees its room"
        );

        let reservation = handoff.reserve(5);
        reservation.hand_over((0..5).map(claimed).collect());
        let batches: Vec<usize> = std::iter::from_fn(|| handoff.take())
            .map(|handed| handed.deliveries.len())
            .collect();
        assert_eq!(batches, vec![2, 2, 1], "handed over in claim-sized batches");
        assert_eq!(handoff.reserve(5).len(), 5, "taken batches free their room");
    }

    #[test]
    fn a_closed_handoff_returns_what_was_not_taken_and_takes_nothing_more() {
        let handoff = handoff(8, 2);
        handoff.reserve(3).hand_over((0..3).map(claimed).collect());

        let left: Vec<uuid::Uuid> = handoff.close().iter().map(|d| d.delivery_id).collect();

        assert_eq!(left, (0..3).map(uuid::Uuid::from_u128).collect::<Vec<_>>());
        assert!(
            handoff.reserve(1).is_empty(),
            "later deliveries are enqueued pending"
        );
    }
}
