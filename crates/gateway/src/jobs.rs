//! Periodic background jobs, once per interval for the whole fleet.
//!
//! Every replica runs the same loop for each job; [`store::jobs`](crate::store::jobs) lets one of
//! them at a time run it, and only when the last run finished an interval ago. A replica that dies
//! mid-run leaves the job due, so the next replica to look (within `look_every`) runs it: no unit of
//! work is lost, and none runs on two replicas at once.

use std::future::Future;
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::store::jobs;

/// The overdue pass of reconciliation (and the fetch of unknown borrowers' documents).
pub const RECONCILIATION_PASS: &str = "reconciliation.pass";
/// Deleting expired idempotency records.
pub const IDEMPOTENCY_PURGE: &str = "idempotency.purge";
/// Creating partitions ahead, dropping expired ones, rotating exactly-once key generations.
pub const PARTITIONS_MAINTAIN: &str = "partitions.maintain";
/// Putting expired delivery claims back to pending (webhook sink).
pub const REAP_WEBHOOK_CLAIMS: &str = "delivery.reap.webhook";
/// Putting expired delivery claims back to pending (JetStream sink).
pub const REAP_JETSTREAM_CLAIMS: &str = "delivery.reap.jetstream";

/// How a job is scheduled.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// The fleet runs the job once per this interval.
    pub every: Duration,
    /// How often each replica looks whether the job is due (and takes over a dead replica's run).
    pub look_every: Duration,
}

impl Schedule {
    /// Runs every `every`, looked at as often (a dead replica's run is taken over within it).
    pub fn every(every: Duration) -> Schedule {
        Schedule {
            every,
            look_every: every.min(Duration::from_secs(30)),
        }
    }
}

/// This process's name in `job_run.finished_by`: the host (the pod, in Kubernetes) and the pid.
pub fn replica_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|host| !host.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|host| host.trim().to_owned())
        })
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "paygate".to_owned());
    format!("{host}:{}", std::process::id())
}

/// Runs `work` as `job` on `schedule` until `shutdown`; `work` returns how many units it handled
/// (logged) or an error (logged; the run is not marked finished, so it is retried at the next look).
pub async fn run<F, Fut, E>(
    pool: PgPool,
    job: &'static str,
    schedule: Schedule,
    shutdown: CancellationToken,
    mut work: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, E>>,
    E: std::fmt::Display,
{
    let replica = replica_name();
    while !shutdown.is_cancelled() {
        run_once(&pool, job, schedule.every, &replica, &mut work).await;
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(schedule.look_every) => {}
        }
    }
}

/// Runs `job` once when it is due and no other replica is running it; returns whether it ran.
pub async fn run_once<F, Fut, E>(
    pool: &PgPool,
    job: &'static str,
    every: Duration,
    replica: &str,
    work: &mut F,
) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, E>>,
    E: std::fmt::Display,
{
    let run = match jobs::start_if_due(pool, job, every).await {
        Ok(Some(run)) => run,
        Ok(None) => return false,
        Err(error) => {
            tracing::warn!(job, error.message = %error, "cannot look whether a job is due");
            return false;
        }
    };
    match work().await {
        Ok(handled) => {
            if handled > 0 {
                tracing::debug!(job, handled, "job run finished");
            }
            if let Err(error) = run.finish(replica).await {
                // The run's work is done; the job is due again and its next run finds less to do.
                tracing::warn!(job, error.message = %error, "cannot mark a job run finished");
            }
            true
        }
        Err(error) => {
            // Dropping the run rolls its transaction back: the job stays due.
            tracing::warn!(job, error.message = %error, "job run failed; it will be retried");
            true
        }
    }
}
