//! Serialization helpers for the [D] wire profile: money as decimal strings with exactly two
//! places, datetimes as ISO-8601 UTC with `Z` and whole seconds, rates as exact JSON numbers.

use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::Serializer;

/// `25000` → `"25000.00"`, rounding half away from zero to two places.
pub(crate) fn money_text(amount: Decimal) -> String {
    let mut rounded = amount.round_dp(2);
    rounded.rescale(2);
    rounded.to_string()
}

/// `2026-04-01T23:59:59Z`.
pub(crate) fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn money<S: Serializer>(amount: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&money_text(*amount))
}

pub(crate) fn money_opt<S: Serializer>(
    amount: &Option<Decimal>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match amount {
        Some(amount) => serializer.serialize_str(&money_text(*amount)),
        None => serializer.serialize_none(),
    }
}

pub(crate) fn time<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&time_text(*at))
}

pub(crate) fn time_opt<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_str(&time_text(*at)),
        None => serializer.serialize_none(),
    }
}

/// A rate (`3.5`) as an exact JSON number.
pub(crate) fn rate<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    let text = value.normalize().to_string();
    match serde_json::Number::from_str(&text) {
        Ok(number) => serde::Serialize::serialize(&number, serializer),
        Err(_) => serializer.serialize_str(&text),
    }
}

pub(crate) fn rate_opt<S: Serializer>(
    value: &Option<Decimal>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => rate(value, serializer),
        None => serializer.serialize_none(),
    }
}

/// A fresh prefixed id: prefix + 32 lowercase hex digits.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use crate::wire::{money_text, new_id};

    #[test]
    fn money_is_written_with_exactly_two_places() {
        assert_eq!(money_text(Decimal::from(25000)), "25000.00");
        assert_eq!(money_text(Decimal::new(8755, 1)), "875.50");
        assert_eq!(money_text(Decimal::new(229_1667, 3)), "2291.67");
    }

    #[test]
    fn ids_are_a_prefix_and_32_hex_digits() {
        let id = new_id("cust_");
        let hex = id.strip_prefix("cust_").unwrap();
        assert_eq!(hex.len(), 32);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }
}
