//! Per-subscription pacing, per process: a concurrency limit (semaphore) and a rate limit.
//!
//! The rate limit is a token bucket with a burst of one (GCRA): each delivery reserves the next
//! slot, one interval after the previous one, so over any window the rate holds. Replicas each
//! enforce the limit for what they send; run one dispatcher process, or divide the limit, when a
//! partner's limit is strict across replicas.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

/// The limits of one subscription.
#[derive(Debug)]
pub struct Pace {
    /// In-flight deliveries.
    pub concurrency: Semaphore,
    /// The earliest instant the next delivery may start.
    next_slot: Mutex<Option<Instant>>,
}

impl Pace {
    fn new(concurrency: usize) -> Pace {
        Pace {
            concurrency: Semaphore::new(concurrency),
            next_slot: Mutex::new(None),
        }
    }

    /// Reserves the next slot at `per_second` deliveries per second and returns how long to wait
    /// for it (zero when it is free now).
    pub fn reserve(&self, per_second: u32) -> Duration {
        let interval = interval(per_second);
        let now = Instant::now();
        let mut next_slot = lock(&self.next_slot);
        let slot = match *next_slot {
            Some(slot) if slot > now => slot,
            _ => now,
        };
        *next_slot = Some(slot + interval);
        slot - now
    }

    /// Gives back a reservation that will not be used (the delivery was put back for later).
    pub fn cancel(&self, per_second: u32) {
        let interval = interval(per_second);
        let mut next_slot = lock(&self.next_slot);
        if let Some(slot) = *next_slot {
            *next_slot = slot.checked_sub(interval);
        }
    }
}

/// Every subscription's pace, created on first use.
#[derive(Debug, Default)]
pub struct Pacing {
    paces: Mutex<HashMap<uuid::Uuid, Arc<Pace>>>,
}

impl Pacing {
    /// The pace of `subscription`, with `concurrency` permits when first created.
    pub fn of(&self, subscription: uuid::Uuid, concurrency: usize) -> Arc<Pace> {
        let mut paces = lock(&self.paces);
        paces
            .entry(subscription)
            .or_insert_with(|| Arc::new(Pace::new(concurrency)))
            .clone()
    }
}

/// The time between two deliveries at `per_second`.
fn interval(per_second: u32) -> Duration {
    Duration::from_nanos(1_000_000_000 / u64::from(per_second.max(1)))
}

/// Locks `mutex`; a panic elsewhere while holding it leaves pacing data that is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn consecutive_reservations_are_one_interval_apart() {
        let pace = Pace::new(1);
        assert_eq!(pace.reserve(10), Duration::ZERO);
        assert_eq!(pace.reserve(10), Duration::from_millis(100));
        assert_eq!(pace.reserve(10), Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_bucket_does_not_accumulate_a_burst() {
        let pace = Pace::new(1);
        pace.reserve(10);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(pace.reserve(10), Duration::ZERO);
        assert_eq!(pace.reserve(10), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_reservation_frees_its_slot() {
        let pace = Pace::new(1);
        pace.reserve(4);
        pace.reserve(4);
        pace.cancel(4);
        assert_eq!(pace.reserve(4), Duration::from_millis(250));
    }
}
