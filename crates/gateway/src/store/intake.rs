//! Webhook intake per minute, provider, registration and outcome (the console's intake page).

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};

/// One count to add.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IntakeKey {
    /// Start of the minute.
    pub minute: DateTime<Utc>,
    /// Provider name.
    pub provider: String,
    /// The webhook path the provider called.
    pub registration: String,
    /// `received`, `duplicate`, `refused` or `quarantined`.
    pub outcome: &'static str,
    /// The refusal's code; empty otherwise.
    pub reason: String,
}

/// Adds counts (one statement for all of them; replicas add to the same rows).
pub async fn add(pool: &PgPool, counts: &[(IntakeKey, i64)]) -> Result<(), sqlx::Error> {
    if counts.is_empty() {
        return Ok(());
    }
    let mut minutes = Vec::with_capacity(counts.len());
    let mut providers = Vec::with_capacity(counts.len());
    let mut registrations = Vec::with_capacity(counts.len());
    let mut outcomes = Vec::with_capacity(counts.len());
    let mut reasons = Vec::with_capacity(counts.len());
    let mut numbers = Vec::with_capacity(counts.len());
    for (key, count) in counts {
        minutes.push(key.minute);
        providers.push(key.provider.clone());
        registrations.push(key.registration.clone());
        outcomes.push(key.outcome.to_owned());
        reasons.push(key.reason.clone());
        numbers.push(*count);
    }
    sqlx::query(
        "insert into webhook_intake (minute, provider, registration, outcome, reason, count)
         select * from unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[])
         order by 1, 2, 3, 4, 5
         on conflict on constraint webhook_intake_pkey
         do update set count = webhook_intake.count + excluded.count",
    )
    .bind(minutes)
    .bind(providers)
    .bind(registrations)
    .bind(outcomes)
    .bind(reasons)
    .bind(numbers)
    .execute(pool)
    .await?;
    Ok(())
}

/// Counts per hour (or per `bucket_minutes`) since a time.
#[derive(Debug, Clone, FromRow)]
pub struct IntakeRow {
    /// Start of the bucket.
    pub bucket: DateTime<Utc>,
    /// Provider name.
    pub provider: String,
    /// Webhook path.
    pub registration: String,
    /// Outcome.
    pub outcome: String,
    /// Refusal code or empty.
    pub reason: String,
    /// How many.
    pub count: i64,
}

/// Counts since `since`, per bucket of `bucket_minutes`, oldest first (bounded by the primary key's
/// time order: one row per minute and kind of outcome at most).
pub async fn series(
    pool: &PgPool,
    since: DateTime<Utc>,
    bucket_minutes: i32,
) -> Result<Vec<IntakeRow>, sqlx::Error> {
    sqlx::query_as(
        "select date_bin(make_interval(mins => $2), minute, timestamptz '2000-01-01') as bucket,
                provider, registration, outcome, reason, sum(count)::int8 as count
         from webhook_intake where minute >= $1
         group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5",
    )
    .bind(since)
    .bind(bucket_minutes)
    .fetch_all(pool)
    .await
}
