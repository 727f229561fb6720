//! Webhook intake counts: what each provider registration sent and what became of it, counted in
//! memory on the inbound path and added to `webhook_intake` every few seconds by one task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::PgPool;

use crate::store::intake::{self, IntakeKey};

/// How often the counts are added to Postgres.
pub const FLUSH_EVERY: Duration = Duration::from_secs(2);

/// What became of one inbound webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored (at least one new event, or nothing to store).
    Received,
    /// Every event it carried was stored already (a redelivery).
    Duplicate,
    /// Refused (verification failed, or storage was unavailable), with the code.
    Refused(&'static str),
    /// Authentic but not understood.
    Quarantined,
}

impl Outcome {
    fn parts(self) -> (&'static str, &'static str) {
        match self {
            Outcome::Received => ("received", ""),
            Outcome::Duplicate => ("duplicate", ""),
            Outcome::Refused(code) => ("refused", code),
            Outcome::Quarantined => ("quarantined", ""),
        }
    }
}

/// Counts not yet added to Postgres.
#[derive(Debug, Default)]
pub struct Tally {
    counts: Mutex<HashMap<IntakeKey, i64>>,
}

impl Tally {
    /// Counts one webhook.
    pub fn count(&self, provider: &str, registration: &str, outcome: Outcome, at: DateTime<Utc>) {
        let (outcome, reason) = outcome.parts();
        let key = IntakeKey {
            minute: at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at),
            provider: provider.to_owned(),
            registration: registration.to_owned(),
            outcome,
            reason: reason.to_owned(),
        };
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(key).or_insert(0) += 1;
        }
    }

    fn take(&self) -> Vec<(IntakeKey, i64)> {
        self.counts
            .lock()
            .map(|mut counts| counts.drain().collect())
            .unwrap_or_default()
    }

    fn put_back(&self, taken: Vec<(IntakeKey, i64)>) {
        if let Ok(mut counts) = self.counts.lock() {
            for (key, count) in taken {
                *counts.entry(key).or_insert(0) += count;
            }
        }
    }

    /// Adds what was counted to Postgres; on failure the counts are kept for the next flush.
    pub async fn flush(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let mut taken = self.take();
        taken.sort();
        if let Err(error) = intake::add(pool, &taken).await {
            self.put_back(taken);
            return Err(error);
        }
        Ok(())
    }
}

/// Flushes `tally` every [`FLUSH_EVERY`] until this task holds its last reference (the ingestor
/// is gone), then flushes once more and ends.
pub async fn flush_until_dropped(pool: PgPool, tally: Arc<Tally>) {
    loop {
        tokio::time::sleep(FLUSH_EVERY).await;
        let last = Arc::strong_count(&tally) == 1;
        if let Err(error) = tally.flush(&pool).await {
            tracing::warn!(%error, "webhook intake counts not stored yet");
        }
        if last {
            return;
        }
    }
}
