//! `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date, the one parser every client of
//! the gateway's uses (provider clients and the delivery of webhooks to partners); and [`backoff`],
//! the wait provider clients share between two attempts of an idempotent call.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::ProviderError;

/// The longest `Retry-After` a provider client waits through inside one call.
pub const MAX_HONOURED_RETRY_AFTER: Duration = Duration::from_secs(5);

/// How long to wait before retry number `attempt` (0 for the first) of an idempotent call that
/// failed with `error`: the provider's `Retry-After`, up to [`MAX_HONOURED_RETRY_AFTER`], or else
/// `base` doubled per retry already made plus up to half of `base` of jitter. Whether to retry at
/// all (the call's idempotency, the error's retryability, the attempts left) is the caller's.
pub fn backoff(error: &ProviderError, attempt: u32, base: Duration) -> Duration {
    if let Some(after) = error.retry_after() {
        return after.min(MAX_HONOURED_RETRY_AFTER);
    }
    let exponential = base.saturating_mul(2_u32.saturating_pow(attempt));
    let half_base = u64::try_from(base.as_millis() / 2).unwrap_or(u64::MAX);
    exponential.saturating_add(Duration::from_millis(rand::random_range(0..=half_base)))
}

/// How long a `Retry-After` value asks to wait from `now`: `120` is two minutes, and an HTTP-date
/// (`Wed, 21 Oct 2026 07:28:00 GMT`) is the time until then (zero once it has passed). `None`
/// when the value is neither.
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    let seconds = (at.with_timezone(&Utc) - now).num_seconds().max(0);
    Some(Duration::from_secs(u64::try_from(seconds).ok()?))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_with_at_most_half_a_base_of_jitter() {
        let base = Duration::from_millis(200);
        let down = ProviderError::Unavailable {
            status: Some(503),
            message: "down".into(),
        };
        for (attempt, floor) in [(0, 200), (1, 400), (2, 800)] {
            let wait = backoff(&down, attempt, base);
            assert!(wait >= Duration::from_millis(floor), "{attempt}: {wait:?}");
            assert!(
                wait <= Duration::from_millis(floor + 100),
                "{attempt}: {wait:?}"
            );
        }
    }

    #[test]
    fn backoff_honours_retry_after_up_to_five_seconds() {
        let base = Duration::from_millis(200);
        let throttled = |secs| ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(backoff(&throttled(2), 3, base), Duration::from_secs(2));
        assert_eq!(backoff(&throttled(60), 0, base), MAX_HONOURED_RETRY_AFTER);
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, 21, 7, 28, 0).unwrap()
    }

    #[test]
    fn delta_seconds_are_read_as_seconds() {
        assert_eq!(retry_after(" 120 ", now()), Some(Duration::from_secs(120)));
    }

    #[test]
    fn an_http_date_is_the_time_until_then_and_zero_once_past() {
        assert_eq!(
            retry_after("Wed, 21 Oct 2026 07:30:00 GMT", now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn anything_else_is_no_retry_after() {
        for value in ["", "soon", "-5", "1.5", "21/10/2026"] {
            assert_eq!(retry_after(value, now()), None, "{value:?}");
        }
    }
}
