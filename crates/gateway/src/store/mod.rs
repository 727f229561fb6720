//! SQL, one module per aggregate. Functions take a pool or a `&mut PgConnection` (so callers can
//! compose them in one transaction) and return domain-shaped rows; no HTTP types here.
//!
//! # Layout
//! - `events`: the event store (exactly-once insert, filtered listing).
//! - `quarantine`: verified webhooks that could not be normalized.
//! - `confirmations`: events of weak-authentication providers waiting for a confirmation by fetch.
//! - `api_keys`: hashed API keys with scopes.
//! - `credentials`: inbound webhook credentials from registrations at providers.
//! - `idempotency`: stored responses for `Idempotency-Key`.
//! - `onboarding`: white-label onboarding rounds (document submissions) per holder.
//! - `subscriptions`, `deliveries`: partner subscriptions and the delivery outbox.
//! - `pace`: fleet-wide rate-limit buckets, one per rate-limited subscription.
//! - `partitions`: weekly partitions of events, deliveries and attempts; retention; key generations.
//! - `jobs`: periodic jobs that run once per interval for the fleet (a row lock per run).
//! - `recon_facts`, `recon_items`: reconciliation's facts and live items (with their locks), and
//!   items as finance reads and decides them, summaries and batch runs.
//! - `replays`: replay jobs and their cursors.
//! - `server`: the Postgres server's own settings and clock (for `paygate doctor`).
//! - `secrets`: every secret column, read and replaced by column for re-encryption.
//! - `console_sessions`: console sign-ins (hashed tokens, CSRF tokens).
//! - `intake`: webhook intake counts per minute, provider, registration and outcome.

pub mod api_keys;
pub mod confirmations;
pub mod console_sessions;
pub mod credentials;
pub mod deliveries;
pub mod events;
pub mod idempotency;
pub mod intake;
pub mod jobs;
pub mod onboarding;
pub mod pace;
pub mod partitions;
pub mod quarantine;
pub mod recon_facts;
pub mod recon_items;
pub mod replays;
pub mod secrets;
pub mod server;
pub mod subscriptions;

/// One page of a cursor-paginated list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items, in list order.
    pub items: Vec<T>,
    /// True when more items follow the last one.
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Builds a page from a query that fetched `limit + 1` rows: the extra row only says "more".
    pub fn from_overfetch(rows: &mut Vec<T>, limit: u32) -> Page<T> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        Page {
            items: std::mem::take(rows),
            has_more,
        }
    }
}
