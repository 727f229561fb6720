//! Partitions ahead of time, retention, and generations of exactly-once keys: the
//! `partitions.maintain` fleet job (`store::partitions` has the SQL; ARCHITECTURE.md, "Partitions
//! and retention", the why).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::config::RetentionSettings;
use crate::jobs;
use crate::store::confirmations;
use crate::store::partitions::{self, Partitioned};

/// What one maintenance pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// Weekly partitions created ahead of time.
    pub created: u64,
    /// Expired partitions dropped, by name.
    pub dropped: Vec<String>,
    /// The new generation of exactly-once keys, when one was started.
    pub rotated_to: Option<i32>,
    /// Resolved confirmations by fetch deleted, their events past retention.
    pub confirmations_deleted: u64,
}

/// How long `table` keeps its rows.
pub fn keep(settings: &RetentionSettings, table: Partitioned) -> chrono::Duration {
    let days = match table {
        Partitioned::Events => settings.events_days,
        Partitioned::Deliveries => settings.deliveries_days,
        Partitioned::Attempts => settings.attempts_days,
    };
    chrono::Duration::days(i64::from(days))
}

/// One pass as of `now`: creates the partitions of the next `partitions_ahead_days`, drops the
/// expired ones (attempts, then deliveries, then events), rotates the key generation when due, and
/// deletes the resolved confirmations by fetch of events past retention.
pub async fn maintain(
    pool: &PgPool,
    settings: &RetentionSettings,
    now: DateTime<Utc>,
) -> Result<Maintenance, sqlx::Error> {
    let created = partitions::ensure_ahead(pool, now, settings.ahead()).await?;
    let mut dropped = Vec::new();
    for table in Partitioned::ALL {
        dropped.extend(partitions::drop_expired(pool, table, now, keep(settings, table)).await?);
    }
    let rotated_to =
        partitions::rotate_key_generation(pool, now, keep(settings, Partitioned::Events)).await?;
    // A confirmation is resolved after its event arrived, and an event's week is dropped at most a
    // week after its retention: one resolved before that is about an event that is gone.
    let confirmations_deleted = confirmations::delete_resolved_before(
        pool,
        now - keep(settings, Partitioned::Events) - chrono::Duration::weeks(1),
    )
    .await?;
    Ok(Maintenance {
        created,
        dropped,
        rotated_to,
        confirmations_deleted,
    })
}

/// Runs [`maintain`] as the `partitions.maintain` fleet job every `check_interval_secs` until
/// `shutdown`.
pub async fn worker(pool: PgPool, settings: RetentionSettings, shutdown: CancellationToken) {
    let schedule = jobs::Schedule::every(Duration::from_secs(settings.check_interval_secs));
    let maintaining = pool.clone();
    jobs::run(
        pool,
        jobs::PARTITIONS_MAINTAIN,
        schedule,
        shutdown,
        move || {
            let pool = maintaining.clone();
            let settings = settings.clone();
            async move {
                let done = maintain(&pool, &settings, Utc::now()).await?;
                Ok::<u64, sqlx::Error>(
                    done.created
                        + u64::try_from(done.dropped.len()).unwrap_or(0)
                        + u64::from(done.rotated_to.is_some())
                        + done.confirmations_deleted,
                )
            }
        },
    )
    .await;
}
