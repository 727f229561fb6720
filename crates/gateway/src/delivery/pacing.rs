//! Per-subscription concurrency, per process: a semaphore per subscription bounds the deliveries
//! this process has in flight to it. The rate limit is fleet-wide, not here: slots are reserved in
//! Postgres for each claimed batch ([`crate::store::pace`]), so N replicas share one bucket.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// The limits of one subscription.
#[derive(Debug)]
pub struct Pace {
    /// In-flight deliveries.
    pub concurrency: Semaphore,
}

impl Pace {
    fn new(concurrency: usize) -> Pace {
        Pace {
            concurrency: Semaphore::new(concurrency),
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

    #[test]
    fn one_subscription_has_one_pace_with_the_concurrency_it_was_created_with() {
        let pacing = Pacing::default();
        let subscription = uuid::Uuid::now_v7();
        let first = pacing.of(subscription, 2);
        let again = pacing.of(subscription, 9);
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(again.concurrency.available_permits(), 2);
        assert_eq!(
            pacing
                .of(uuid::Uuid::now_v7(), 3)
                .concurrency
                .available_permits(),
            3
        );
    }
}
