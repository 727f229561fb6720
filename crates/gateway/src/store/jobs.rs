//! Periodic jobs that run once per interval for the whole fleet (`job_run`).
//!
//! A replica starts a due job by locking its row (`for update skip locked`) in a transaction that
//! stays open for the run, on a connection of its own; [`JobRun::finish`] marks the run and commits.
//! While the run holds the row no other replica starts the job; if the replica dies mid-run, its
//! connection closes, the transaction rolls back, the job is still due and the next replica to look
//! runs it. The lock holds no snapshot between statements (read committed), so a long run does not
//! hold back vacuum beyond its own transaction id.

use std::time::Duration;

use sqlx::{PgPool, Postgres, Transaction};

/// A job run in progress: the job's row is locked until [`JobRun::finish`] (or drop, which rolls
/// back and leaves the job due).
pub struct JobRun {
    job: &'static str,
    transaction: Transaction<'static, Postgres>,
}

impl std::fmt::Debug for JobRun {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("JobRun")
            .field("job", &self.job)
            .finish_non_exhaustive()
    }
}

/// Starts `job` when no replica is running it and its last run finished `every` ago or more.
pub async fn start_if_due(
    pool: &PgPool,
    job: &'static str,
    every: Duration,
) -> Result<Option<JobRun>, sqlx::Error> {
    sqlx::query("insert into job_run (job) values ($1) on conflict (job) do nothing")
        .bind(job)
        .execute(pool)
        .await?;
    let mut transaction = pool.begin().await?;
    let every_micros = i64::try_from(every.as_micros()).unwrap_or(i64::MAX);
    let due: Option<String> = sqlx::query_scalar(
        "select job from job_run
         where job = $1 and last_finished_at <= now() - $2 * interval '1 microsecond'
         for update skip locked",
    )
    .bind(job)
    .bind(every_micros)
    .fetch_optional(&mut *transaction)
    .await?;
    Ok(due.map(|_| JobRun { job, transaction }))
}

impl JobRun {
    /// The job's name.
    pub fn job(&self) -> &'static str {
        self.job
    }

    /// Records the run as finished by `replica` and lets the next one start after the interval.
    pub async fn finish(mut self, replica: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "update job_run set last_finished_at = clock_timestamp(), runs = runs + 1,
                 finished_by = $2
             where job = $1",
        )
        .bind(self.job)
        .bind(replica)
        .execute(&mut *self.transaction)
        .await?;
        self.transaction.commit().await
    }
}

/// A job's finished runs and the replica that finished the last one.
pub async fn runs(pool: &PgPool, job: &str) -> Result<(i64, Option<String>), sqlx::Error> {
    let row: Option<(i64, Option<String>)> =
        sqlx::query_as("select runs, finished_by from job_run where job = $1")
            .bind(job)
            .fetch_optional(pool)
            .await?;
    Ok(row.unwrap_or((0, None)))
}
