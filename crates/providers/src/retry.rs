//! `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date, the one parser every client of
//! the gateway's uses (provider clients and the delivery of webhooks to partners).

use std::time::Duration;

use chrono::{DateTime, Utc};

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
