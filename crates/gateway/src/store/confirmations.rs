//! Confirmations by fetch: the events of weak-authentication providers that wait for the
//! provider's API to confirm them (`event_confirmation`, migration 20261207000024). Claimed by the
//! confirmer with a lease, so any number of replicas share the work and a replica that dies
//! mid-fetch only delays a confirmation by its lease.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool};

/// How an event's confirmation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for the provider's API.
    Pending,
    /// The provider's API agreed: the event was published and reconciled.
    Confirmed,
    /// The provider's API contradicted it: it is never published.
    Refused,
}

impl State {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Confirmed => "confirmed",
            State::Refused => "refused",
        }
    }

    fn parse(value: &str) -> Option<State> {
        match value {
            "pending" => Some(State::Pending),
            "confirmed" => Some(State::Confirmed),
            "refused" => Some(State::Refused),
            _ => None,
        }
    }
}

/// An event's confirmation, as read back.
#[derive(Debug, Clone, FromRow)]
pub struct Confirmation {
    /// The event.
    pub event_id: uuid::Uuid,
    state: String,
    /// Why it was refused.
    pub reason: Option<String>,
    /// Fetches tried.
    pub attempts: i32,
    /// When the next fetch is due (pending only).
    pub next_attempt_at: DateTime<Utc>,
    /// The last failure to ask.
    pub last_error: Option<String>,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The event's `verification`, read in the same statement (so that a confirmed state always
    /// comes with its `+fetch`).
    pub verification: Option<String>,
}

impl Confirmation {
    /// Its state (a row the check constraint let in always has one).
    pub fn state(&self) -> State {
        State::parse(&self.state).unwrap_or(State::Pending)
    }
}

/// Records `events` (id, provider) as waiting for confirmation, due now, in the caller's
/// transaction (the one that stores them).
pub async fn insert_pending(
    connection: &mut PgConnection,
    events: &[(uuid::Uuid, &str)],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "insert into event_confirmation (event_id, provider)
         select * from unnest($1::uuid[], $2::text[])",
    )
    .bind(events.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(
        events
            .iter()
            .map(|(_, provider)| *provider)
            .collect::<Vec<_>>(),
    )
    .execute(connection)
    .await?;
    Ok(())
}

/// Claims up to `limit` pending confirmations that are due, oldest first, counting the attempt and
/// moving their next attempt `lease` ahead (so another replica takes them only if this one does
/// not resolve them in time). Returns `(event_id, attempts)`, attempts including this one.
pub async fn claim_due(
    pool: &PgPool,
    limit: i64,
    lease: Duration,
) -> Result<Vec<(uuid::Uuid, i32)>, sqlx::Error> {
    sqlx::query_as(
        "update event_confirmation c
         set attempts = c.attempts + 1, next_attempt_at = now() + $2 * interval '1 millisecond'
         where c.event_id in (select event_id from event_confirmation
                              where state = 'pending' and next_attempt_at <= now()
                              order by next_attempt_at
                              limit $1
                              for update skip locked)
         returning c.event_id, c.attempts",
    )
    .bind(limit)
    .bind(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await
}

/// Resolves a pending confirmation, in the caller's transaction (a confirmed event's
/// `verification` gains `+fetch`); `false` when it was no longer pending (another replica resolved it after this one's lease ran out), in which case the caller
/// must not publish the event again.
pub async fn resolve(
    connection: &mut PgConnection,
    event_id: uuid::Uuid,
    state: State,
    reason: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "update event_confirmation set state = $2, reason = $3, resolved_at = now()
         where event_id = $1 and state = 'pending'",
    )
    .bind(event_id)
    .bind(state.as_str())
    .bind(reason)
    .execute(&mut *connection)
    .await?;
    if updated.rows_affected() != 1 {
        return Ok(false);
    }
    if state == State::Confirmed {
        // The event records how it came to be trusted: `credential+fetch`.
        sqlx::query(
            "update event set verification = coalesce(verification, 'unknown') || '+fetch'
             where event_id = $1",
        )
        .bind(event_id)
        .execute(connection)
        .await?;
    }
    Ok(true)
}

/// A fetch failed (the provider down): tries again after `delay`, keeping the error for operators.
pub async fn retry_later(
    pool: &PgPool,
    event_id: uuid::Uuid,
    delay: Duration,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update event_confirmation
         set next_attempt_at = now() + $2 * interval '1 millisecond', last_error = $3
         where event_id = $1 and state = 'pending'",
    )
    .bind(event_id)
    .bind(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX))
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// The confirmations of these events, by event (events that needed none are absent), each with
/// its event's `verification` as of the same snapshot.
pub async fn of_events(
    pool: &PgPool,
    event_ids: &[uuid::Uuid],
) -> Result<HashMap<uuid::Uuid, Confirmation>, sqlx::Error> {
    let found: Vec<Confirmation> = sqlx::query_as(
        "select c.event_id, c.state, c.reason, c.attempts, c.next_attempt_at, c.last_error,
                c.resolved_at, e.verification
         from event_confirmation c join event e using (event_id)
         where c.event_id = any($1)",
    )
    .bind(event_ids)
    .fetch_all(pool)
    .await?;
    Ok(found
        .into_iter()
        .map(|confirmation| (confirmation.event_id, confirmation))
        .collect())
}

/// Deletes resolved confirmations older than `before` (their events are past retention).
pub async fn delete_resolved_before(
    pool: &PgPool,
    before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let deleted =
        sqlx::query("delete from event_confirmation where resolved_at < $1 and state <> 'pending'")
            .bind(before)
            .execute(pool)
            .await?;
    Ok(deleted.rows_affected())
}
