//! Fleet-wide rate limits: one GCRA bucket per rate-limited subscription, in `subscription_pace`.
//!
//! A dispatcher reserves, in one statement per claimed batch, a block of consecutive slots for each
//! rate-limited subscription in it: the block starts at the bucket's next free slot (or now, when
//! the bucket is idle: no burst accumulates) and the bucket moves past it. Every replica reserves
//! from the same row, under its row lock, so the slots of the whole fleet are one interval apart
//! whatever process sends them. Slots are returned as offsets from the database's `now()`, so
//! replicas' clocks need not agree. A block never reaches further than `horizon` ahead (a claim
//! must outlast its wait): what does not fit is granted nothing and waits, pending, for later.

use std::time::Duration;

use sqlx::PgPool;

/// What one subscription wants: `wanted` slots at `per_second`.
#[derive(Debug, Clone, Copy)]
pub struct Want {
    /// The subscription.
    pub subscription_id: uuid::Uuid,
    /// Deliveries claimed for it.
    pub wanted: u32,
    /// Its rate limit.
    pub per_second: u32,
}

/// What a reservation got for one subscription: `granted` slots, the first `start` from now, then
/// one `interval` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// The subscription.
    pub subscription_id: uuid::Uuid,
    /// Slots granted (at most what was wanted; zero when the bucket is booked beyond the horizon).
    pub granted: u32,
    /// From now to the first slot.
    pub start: Duration,
    /// Between two slots.
    pub interval: Duration,
}

/// When the `index`-th delivery of a subscription's block may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// After this wait from the reservation.
    After(Duration),
    /// Not within the horizon: put it back, due after this wait (when the bucket frees up).
    Later(Duration),
}

impl Grant {
    /// The slot of the `index`-th delivery (in claim order) of this subscription's block.
    pub fn slot(&self, index: u32) -> Slot {
        if index < self.granted {
            Slot::After(self.start + self.interval * index)
        } else {
            Slot::Later(self.start + self.interval * self.granted)
        }
    }
}

/// What a partner may see of jitter: one POST's latency varies, so two slots one interval apart
/// can arrive closer together. Slots are spaced so that `per_second` of them span a second plus
/// this, and any one-second window at the partner holds at most `per_second` deliveries while
/// the jitter stays under it. The cost is 1% of the rate (a 400/s partner gets 396/s).
pub const JITTER_MARGIN: Duration = Duration::from_millis(10);

/// The time between two slots at `per_second`, in whole microseconds (the database's precision):
/// a second plus [`JITTER_MARGIN`], over `per_second`. A window of a second then holds at most
/// `per_second` slot starts (at exactly a second apart it would hold one more: both ends).
pub fn interval(per_second: u32) -> Duration {
    let span = 1_000_000 + u64::try_from(JITTER_MARGIN.as_micros()).unwrap_or(0);
    Duration::from_micros(span.div_ceil(u64::from(per_second.max(1))))
}

/// Reserves slots for every subscription in `wants` (one at most per subscription), never further
/// than `horizon` ahead. Creates a subscription's bucket on its first reservation.
pub async fn reserve(
    pool: &PgPool,
    wants: &[Want],
    horizon: Duration,
) -> Result<Vec<Grant>, sqlx::Error> {
    if wants.is_empty() {
        return Ok(Vec::new());
    }
    let mut wants = wants.to_vec();
    // Row locks in one order across replicas: two reservations never wait on each other in a cycle.
    wants.sort_unstable_by_key(|want| want.subscription_id);
    let mut grants = update(pool, &wants, horizon).await?;
    if grants.len() < wants.len() {
        let missing: Vec<Want> = wants
            .iter()
            .filter(|want| {
                !grants
                    .iter()
                    .any(|grant| grant.subscription_id == want.subscription_id)
            })
            .copied()
            .collect();
        let ids: Vec<uuid::Uuid> = missing.iter().map(|want| want.subscription_id).collect();
        // An idle bucket: its next slot is now. A subscription deleted meanwhile gets no row.
        sqlx::query(
            "insert into subscription_pace (subscription_id, next_slot, last_start, last_granted)
             select s.subscription_id, now(), now(), 0
             from subscription s where s.subscription_id = any($1)
             order by s.subscription_id
             on conflict (subscription_id) do nothing",
        )
        .bind(&ids)
        .execute(pool)
        .await?;
        grants.extend(update(pool, &missing, horizon).await?);
    }
    Ok(grants)
}

/// Moves each bucket past the block it grants and returns the grants.
async fn update(
    pool: &PgPool,
    wants: &[Want],
    horizon: Duration,
) -> Result<Vec<Grant>, sqlx::Error> {
    let ids: Vec<uuid::Uuid> = wants.iter().map(|want| want.subscription_id).collect();
    let wanted: Vec<i32> = wants
        .iter()
        .map(|want| i32::try_from(want.wanted).unwrap_or(i32::MAX))
        .collect();
    let intervals: Vec<i64> = wants
        .iter()
        .map(|want| micros(interval(want.per_second)))
        .collect();
    // The block starts at the bucket's next slot, or now when that has passed; it holds the slots
    // whose start is within the horizon, at most what was wanted.
    let offset = "(extract(epoch from greatest(p.next_slot, now()) - now()) * 1000000)::int8";
    let granted = format!(
        "least(w.wanted, case when {offset} > $4 then 0 else ($4 - {offset}) / w.interval_us + 1 end)"
    );
    let statement = format!(
        "update subscription_pace p set
            last_start = greatest(p.next_slot, now()),
            last_granted = {granted},
            next_slot = greatest(p.next_slot, now()) + {granted} * w.interval_us * interval '1 microsecond'
         from unnest($1::uuid[], $2::int4[], $3::int8[]) as w(subscription_id, wanted, interval_us)
         where p.subscription_id = w.subscription_id
         returning p.subscription_id, p.last_granted,
            (extract(epoch from p.last_start - now()) * 1000000)::int8, w.interval_us"
    );
    let rows: Vec<(uuid::Uuid, i32, i64, i64)> = sqlx::query_as(&statement)
        .bind(&ids)
        .bind(&wanted)
        .bind(&intervals)
        .bind(micros(horizon))
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(subscription_id, granted, start, interval)| Grant {
            subscription_id,
            granted: u32::try_from(granted).unwrap_or(0),
            start: Duration::from_micros(u64::try_from(start).unwrap_or(0)),
            interval: Duration::from_micros(u64::try_from(interval).unwrap_or(0)),
        })
        .collect())
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(granted: u32, start_ms: u64, interval_ms: u64) -> Grant {
        Grant {
            subscription_id: uuid::Uuid::nil(),
            granted,
            start: Duration::from_millis(start_ms),
            interval: Duration::from_millis(interval_ms),
        }
    }

    #[test]
    fn slots_of_a_block_are_one_interval_apart_from_its_start() {
        let block = grant(3, 50, 100);
        assert_eq!(block.slot(0), Slot::After(Duration::from_millis(50)));
        assert_eq!(block.slot(1), Slot::After(Duration::from_millis(150)));
        assert_eq!(block.slot(2), Slot::After(Duration::from_millis(250)));
    }

    #[test]
    fn a_delivery_beyond_the_grant_waits_for_when_the_bucket_frees_up() {
        let block = grant(2, 0, 100);
        assert_eq!(block.slot(2), Slot::Later(Duration::from_millis(200)));
        assert_eq!(block.slot(7), Slot::Later(Duration::from_millis(200)));
    }

    #[test]
    fn the_interval_is_whole_microseconds_and_never_divides_by_zero() {
        assert_eq!(interval(10), Duration::from_millis(101));
        assert_eq!(interval(3), Duration::from_micros(336_667));
        assert_eq!(interval(0), Duration::from_millis(1010));
    }

    #[test]
    fn a_second_plus_the_jitter_margin_holds_no_more_slots_than_the_rate() {
        for per_second in [1_u32, 5, 10, 400, 1000, 3000] {
            let step = interval(per_second);
            // Slots 0, step, 2 step, ...: a partner's one-second window [t, t + 1 s) receives the
            // slots that started within a window one margin longer, [t - L - J, t + 1 s - L),
            // for latencies between L and L + J. A half-open window of length W holds at most
            // ceil(W / step) of them.
            let window = (Duration::from_secs(1) + JITTER_MARGIN).as_micros();
            let starts = u32::try_from(window.div_ceil(step.as_micros())).unwrap();
            assert!(
                starts <= per_second,
                "{per_second}/s: {starts} slots in {window:?}"
            );
        }
    }
}
