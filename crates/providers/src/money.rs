//! Exact monetary amounts: [`Money`] is a [`Decimal`] tagged with a [`Currency`].
//!
//! There is no float constructor and no float on any path: JSON numbers are read from their exact
//! text (serde_json's `arbitrary_precision` feature hands them over as a string), and a visitor
//! that is offered an `f64` refuses it.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The key under which serde_json (with `arbitrary_precision`) hands a number to `visit_map`.
/// The key under which serde_json (with `arbitrary_precision`) hands a number over as its exact text.
pub const JSON_NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// An ISO 4217 currency accepted by the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Currency {
    /// Brazilian real, `BRL`, two minor units.
    Brl,
}

impl Currency {
    /// The ISO 4217 code, e.g. `"BRL"`.
    pub fn code(&self) -> &'static str {
        match self {
            Currency::Brl => "BRL",
        }
    }

    /// How many decimal places the currency's minor unit has (2 for BRL).
    pub fn minor_units(&self) -> u32 {
        match self {
            Currency::Brl => 2,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    /// Parses an ISO 4217 code, ignoring ASCII case (`"brl"` is `BRL`).
    fn from_str(input: &str) -> Result<Currency, MoneyError> {
        if input.eq_ignore_ascii_case("BRL") {
            return Ok(Currency::Brl);
        }
        Err(MoneyError::UnsupportedCurrency)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Currency, D::Error> {
        struct CurrencyVisitor;

        impl Visitor<'_> for CurrencyVisitor {
            type Value = Currency;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ISO 4217 currency code such as \"BRL\"")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Currency, E> {
                Currency::from_str(value).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(CurrencyVisitor)
    }
}

/// Why an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The input was an empty string.
    #[error("amount is empty")]
    Empty,
    /// The input is not a plain decimal number (`NaN`, `Infinity`, padding, letters, `1_000`...).
    #[error("amount is not a number")]
    NotANumber,
    /// The number does not fit in a [`Decimal`], or a sum overflowed.
    #[error("amount is out of range")]
    OutOfRange,
    /// The number has more significant decimals than a [`Decimal`] holds exactly (28).
    #[error("amount has more decimal places than can be represented exactly")]
    TooPrecise,
    /// The amount has more decimal places than the caller allows.
    #[error("amount has {found} decimal places, at most {max} allowed")]
    TooManyDecimals {
        /// The largest number of decimal places allowed.
        max: u32,
        /// The number of decimal places found, trailing zeros ignored.
        found: u32,
    },
    /// The amount is below zero where only positive amounts make sense.
    #[error("amount must not be negative")]
    Negative,
    /// The amount is zero where only positive amounts make sense.
    #[error("amount must be greater than zero")]
    Zero,
    /// Two amounts in different currencies were combined.
    #[error("currency mismatch: {left} and {right}")]
    CurrencyMismatch {
        /// The currency of the left operand.
        left: Currency,
        /// The currency of the right operand.
        right: Currency,
    },
    /// A deserializer offered a binary float, which cannot be trusted to be exact.
    #[error("amount must be sent as a decimal string or exact number")]
    InexactNumber,
    /// The currency code is not one the gateway supports.
    #[error("unsupported currency, only BRL is accepted")]
    UnsupportedCurrency,
}

impl MoneyError {
    /// A stable `snake_case` code for this error, unique per variant.
    pub fn code(&self) -> &'static str {
        match self {
            MoneyError::Empty => "amount_empty",
            MoneyError::NotANumber => "amount_not_a_number",
            MoneyError::OutOfRange => "amount_out_of_range",
            MoneyError::TooPrecise => "amount_too_precise",
            MoneyError::TooManyDecimals { .. } => "amount_too_many_decimals",
            MoneyError::Negative => "amount_negative",
            MoneyError::Zero => "amount_zero",
            MoneyError::CurrencyMismatch { .. } => "currency_mismatch",
            MoneyError::InexactNumber => "amount_inexact_number",
            MoneyError::UnsupportedCurrency => "currency_unsupported",
        }
    }
}

/// An exact amount of money in one currency.
///
/// Equality and hashing are numeric: `20`, `20.0` and `20.00` BRL are the same `Money`. Formatting
/// is canonical: trailing zeros are dropped, then the text is padded to the currency's minor units
/// (`20` → `20.00`, `12.12345` → `12.12345`); digits are never rounded away.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// An amount in `currency`. Any sign and scale are accepted; validate with
    /// [`Money::ensure_payment_amount`] and [`Money::with_max_scale`] where it matters.
    pub fn new(amount: Decimal, currency: Currency) -> Money {
        Money { amount, currency }
    }

    /// An amount in Brazilian reais.
    pub fn brl(amount: Decimal) -> Money {
        Money::new(amount, Currency::Brl)
    }

    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Money {
        Money::new(Decimal::ZERO, currency)
    }

    /// The amount, with the scale it was created with.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Parses a decimal string exactly: `"50000.00"`, `"12.12"`, `"20"`, `"-3.5"`, `"1.5e2"`.
    ///
    /// Only an optional `-`, digits, an optional `.` followed by digits and an optional exponent
    /// are accepted; whitespace, `+`, `_`, `NaN` and `Infinity` are refused.
    pub fn parse(input: &str, currency: Currency) -> Result<Money, MoneyError> {
        let amount = parse_decimal(input)?;
        Ok(Money::new(amount, currency))
    }

    /// Returns `self` if it has at most `max_decimals` decimal places once trailing zeros are
    /// ignored (`100.000` passes with 2).
    pub fn with_max_scale(self, max_decimals: u32) -> Result<Money, MoneyError> {
        let found = self.amount.normalize().scale();
        if found > max_decimals {
            return Err(MoneyError::TooManyDecimals {
                max: max_decimals,
                found,
            });
        }
        Ok(self)
    }

    /// Returns `self` if it can be charged or paid: strictly greater than zero.
    pub fn ensure_payment_amount(self) -> Result<Money, MoneyError> {
        if self.amount.is_zero() {
            return Err(MoneyError::Zero);
        }
        if self.amount.is_sign_negative() {
            return Err(MoneyError::Negative);
        }
        Ok(self)
    }

    /// `self + other`, refusing different currencies and overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        let currency = self.same_currency(other)?;
        match self.amount.checked_add(other.amount) {
            Some(amount) => Ok(Money::new(amount, currency)),
            None => Err(MoneyError::OutOfRange),
        }
    }

    /// `self - other`, refusing different currencies and overflow.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        let currency = self.same_currency(other)?;
        match self.amount.checked_sub(other.amount) {
            Some(amount) => Ok(Money::new(amount, currency)),
            None => Err(MoneyError::OutOfRange),
        }
    }

    /// The amount as text with at least the currency's minor units and no rounding:
    /// `20` → `"20.00"`, `12.1` → `"12.10"`, `12.12345` → `"12.12345"`, `2.50000` → `"2.50"`.
    pub fn to_minor_units_string(&self) -> String {
        let normalized = self.amount.normalize();
        let mut text = normalized.to_string();
        let decimals = normalized.scale();
        let minor_units = self.currency.minor_units();
        if decimals >= minor_units {
            return text;
        }
        if decimals == 0 {
            text.push('.');
        }
        for _ in decimals..minor_units {
            text.push('0');
        }
        text
    }

    fn same_currency(self, other: Money) -> Result<Currency, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            });
        }
        Ok(self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_minor_units_string(), self.currency)
    }
}

/// Serializes as `{"amount": "12.12", "currency": "BRL"}`, the amount a decimal string
/// (see [`Money::to_minor_units_string`]).
impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("Money", 2)?;
        state.serialize_field("amount", &self.to_minor_units_string())?;
        state.serialize_field("currency", &self.currency)?;
        state.end()
    }
}

impl Money {
    /// The amounts `Serialize` writes, as a regular expression (for the JSON Schema): a decimal
    /// string with at least two decimal places, no exponent (`"12.10"`, `"-3.50"`, `"1500.00001"`).
    pub const AMOUNT_PATTERN: &str = "^-?[0-9]+\\.[0-9]{2,}$";
}

/// The schema of what `Serialize` writes: `{"amount": "12.10", "currency": "BRL"}`, both
/// required, the amount a decimal string (never a JSON number).
impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let amount = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(Money::AMOUNT_PATTERN))
            .description(Some(
                "A decimal string with at least the currency's minor units, never rounded \
                 (`\"12.10\"`); never a JSON number.",
            ))
            .examples(["12.10"]);
        let currency = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([Currency::Brl.code()]))
            .description(Some("The ISO 4217 code."));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("An exact amount of money."))
            .property("amount", amount)
            .required("amount")
            .property("currency", currency)
            .required("currency")
            .into()
    }
}

impl utoipa::ToSchema for Money {}

/// Deserializes, exactly, from a JSON number (`12.12`), a decimal string (`"12.12"`), both meaning
/// BRL, or the object written by `Serialize` (`{"amount": "12.12", "currency": "BRL"}`, where the
/// amount may also be a number). A binary float is refused.
///
/// Deserialize from JSON text (`serde_json::from_str`/`from_slice`), where serde_json's
/// `arbitrary_precision` hands every non-integer number over as its exact text. A number already
/// inside a `serde_json::Value` that fits an `f64` is handed to `from_value` as an `f64` and is
/// therefore refused: carry amounts as strings in a `Value`, or parse from text.
impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        deserializer.deserialize_any(MoneyVisitor)
    }
}

/// Serde helpers for a bare [`Decimal`] field (rates, percentages) with the same exactness rules as
/// [`Money`]: serialized as a decimal string, deserialized from a decimal string or an exact JSON
/// number, never from a float. Use with `#[serde(with = "providers::money::exact_decimal")]`.
pub mod exact_decimal {
    use rust_decimal::Decimal;
    use serde::{Deserializer, Serializer};

    /// Writes the decimal as a string, keeping its scale (`"1.50"` stays `"1.50"`).
    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    /// Reads a decimal string or an exact JSON number.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        deserializer.deserialize_any(crate::money::DecimalVisitor)
    }
}

/// Serde helper for an amount a caller asks to pay: BRL, written as a decimal string (`"12.10"`)
/// in the strict grammar of [`payment_amount::PATTERN`]: no sign, no exponent, no leading zeros,
/// at most two decimal places, at most 15 integer digits, and greater than zero. A JSON number is
/// refused, whatever its digits: a client that sends numbers has had them in a float somewhere.
/// Use with `#[serde(deserialize_with = "providers::money::payment_amount::deserialize")]`.
pub mod payment_amount {
    use std::fmt;

    use serde::Deserializer;
    use serde::de::{self, MapAccess, Visitor};

    use super::{Money, MoneyError};

    const NOT_A_STRING: &str = "send the amount as a decimal string, e.g. \"12.10\"";

    /// The amounts accepted, as a regular expression (for the OpenAPI schema): `0.01` to
    /// `999999999999999.99`.
    pub const PATTERN: &str = "^([1-9][0-9]{0,14}(\\.[0-9]{1,2})?|0\\.(0[1-9]|[1-9][0-9]?))$";

    /// Reads a payment amount from a JSON string.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        deserializer.deserialize_any(PaymentAmountVisitor)
    }

    /// Parses `text` as a payment amount.
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        let (integer, fraction) = match text.split_once('.') {
            Some((integer, fraction)) => (integer, Some(fraction)),
            None => (text, None),
        };
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if text.is_empty() {
            return Err(MoneyError::Empty);
        }
        if !digits(integer) || fraction.is_some_and(|fraction| !digits(fraction)) {
            return match text.starts_with('-') {
                true => Err(MoneyError::Negative),
                false => Err(MoneyError::NotANumber),
            };
        }
        if integer.len() > 1 && integer.starts_with('0') {
            return Err(MoneyError::NotANumber);
        }
        if integer.len() > 15 {
            return Err(MoneyError::OutOfRange);
        }
        if let Some(fraction) = fraction
            && fraction.len() > 2
        {
            return Err(MoneyError::TooManyDecimals {
                max: 2,
                found: u32::try_from(fraction.len()).unwrap_or(u32::MAX),
            });
        }
        let amount = super::parse_decimal(text)?;
        Money::brl(amount).ensure_payment_amount()
    }

    struct PaymentAmountVisitor;

    impl<'de> Visitor<'de> for PaymentAmountVisitor {
        type Value = Money;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an amount as a decimal string such as \"12.10\", at most two decimals")
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<Money, E> {
            parse(value).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, _value: u64) -> Result<Money, E> {
            Err(E::custom(NOT_A_STRING))
        }

        fn visit_i64<E: de::Error>(self, _value: i64) -> Result<Money, E> {
            Err(E::custom(NOT_A_STRING))
        }

        fn visit_f64<E: de::Error>(self, _value: f64) -> Result<Money, E> {
            Err(E::custom(NOT_A_STRING))
        }

        fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<Money, A::Error> {
            // serde_json's arbitrary-precision numbers arrive as a one-entry map.
            Err(de::Error::custom(NOT_A_STRING))
        }
    }
}

/// Parses the exact decimal grammar described on [`Money::parse`].
fn parse_decimal(input: &str) -> Result<Decimal, MoneyError> {
    if input.is_empty() {
        return Err(MoneyError::Empty);
    }
    let Some(exponent_at) = scan_number(input.as_bytes()) else {
        return Err(MoneyError::NotANumber);
    };
    let Some(exponent_at) = exponent_at else {
        return Decimal::from_str_exact(input).map_err(map_decimal_error);
    };
    let (base, exponent) = input.split_at(exponent_at);
    // `from_scientific` reads the base with the rounding parser: check that it is exact first.
    if let Err(error) = Decimal::from_str_exact(base) {
        return Err(map_decimal_error(error));
    }
    // With an exact base, the only way left to fail is a scale or a magnitude that does not fit.
    let negative_exponent = exponent.as_bytes().get(1) == Some(&b'-');
    Decimal::from_scientific(input).map_err(|_| match negative_exponent {
        true => MoneyError::TooPrecise,
        false => MoneyError::OutOfRange,
    })
}

/// Checks `-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?`. Returns `None` when the text does not match,
/// otherwise where the exponent starts, if there is one.
fn scan_number(bytes: &[u8]) -> Option<Option<usize>> {
    let mut position = 0;
    if bytes.first() == Some(&b'-') {
        position += 1;
    }
    position = skip_digits(bytes, position)?;
    if bytes.get(position) == Some(&b'.') {
        position = skip_digits(bytes, position + 1)?;
    }
    if position == bytes.len() {
        return Some(None);
    }
    let exponent_at = position;
    if !matches!(bytes.get(position), Some(b'e' | b'E')) {
        return None;
    }
    position += 1;
    if matches!(bytes.get(position), Some(b'+' | b'-')) {
        position += 1;
    }
    position = skip_digits(bytes, position)?;
    if position != bytes.len() {
        return None;
    }
    Some(Some(exponent_at))
}

/// Skips one or more ASCII digits starting at `position`; `None` if there is none.
fn skip_digits(bytes: &[u8], position: usize) -> Option<usize> {
    let count = bytes
        .get(position..)?
        .iter()
        .take_while(|byte| byte.is_ascii_digit())
        .count();
    if count == 0 {
        return None;
    }
    Some(position + count)
}

fn map_decimal_error(error: rust_decimal::Error) -> MoneyError {
    match error {
        rust_decimal::Error::Underflow | rust_decimal::Error::ScaleExceedsMaximumPrecision(_) => {
            MoneyError::TooPrecise
        }
        rust_decimal::Error::ExceedsMaximumPossibleValue
        | rust_decimal::Error::LessThanMinimumPossibleValue
        | rust_decimal::Error::ConversionTo(_)
        | rust_decimal::Error::ErrorString(_) => MoneyError::OutOfRange,
    }
}

/// Reads a [`Decimal`] from a string, an integer or a serde_json arbitrary-precision number.
struct DecimalVisitor;

impl<'de> Visitor<'de> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal string or an exact JSON number")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Decimal, E> {
        parse_decimal(value).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(value))
    }

    fn visit_i128<E: de::Error>(self, value: i128) -> Result<Decimal, E> {
        Decimal::try_from_i128_with_scale(value, 0).map_err(|_| E::custom(MoneyError::OutOfRange))
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<Decimal, E> {
        let Ok(value) = i128::try_from(value) else {
            return Err(E::custom(MoneyError::OutOfRange));
        };
        self.visit_i128(value)
    }

    fn visit_f64<E: de::Error>(self, _value: f64) -> Result<Decimal, E> {
        Err(E::custom(MoneyError::InexactNumber))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Decimal, A::Error> {
        let key: Option<String> = map.next_key()?;
        match key.as_deref() {
            Some(JSON_NUMBER_TOKEN) => {
                let text: String = map.next_value()?;
                parse_decimal(&text).map_err(de::Error::custom)
            }
            _ => Err(de::Error::invalid_type(de::Unexpected::Map, &self)),
        }
    }
}

/// A [`Decimal`] deserialized through [`DecimalVisitor`].
struct ExactDecimal(Decimal);

impl<'de> Deserialize<'de> for ExactDecimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ExactDecimal, D::Error> {
        deserializer
            .deserialize_any(DecimalVisitor)
            .map(ExactDecimal)
    }
}

struct MoneyVisitor;

impl<'de> Visitor<'de> for MoneyVisitor {
    type Value = Money;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "an amount as a decimal string, an exact JSON number or {\"amount\", \"currency\"}",
        )
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Money, E> {
        DecimalVisitor.visit_str(value).map(Money::brl)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Money, E> {
        DecimalVisitor.visit_i64(value).map(Money::brl)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Money, E> {
        DecimalVisitor.visit_u64(value).map(Money::brl)
    }

    fn visit_i128<E: de::Error>(self, value: i128) -> Result<Money, E> {
        DecimalVisitor.visit_i128(value).map(Money::brl)
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<Money, E> {
        DecimalVisitor.visit_u128(value).map(Money::brl)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Money, E> {
        DecimalVisitor.visit_f64(value).map(Money::brl)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Money, A::Error> {
        let mut amount: Option<Decimal> = None;
        let mut currency: Option<Currency> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                JSON_NUMBER_TOKEN if amount.is_none() && currency.is_none() => {
                    let text: String = map.next_value()?;
                    return parse_decimal(&text)
                        .map(Money::brl)
                        .map_err(de::Error::custom);
                }
                "amount" => {
                    if amount.is_some() {
                        return Err(de::Error::duplicate_field("amount"));
                    }
                    amount = Some(map.next_value::<ExactDecimal>()?.0);
                }
                "currency" => {
                    if currency.is_some() {
                        return Err(de::Error::duplicate_field("currency"));
                    }
                    currency = Some(map.next_value()?);
                }
                other => return Err(de::Error::unknown_field(other, &["amount", "currency"])),
            }
        }
        let Some(amount) = amount else {
            return Err(de::Error::missing_field("amount"));
        };
        let Some(currency) = currency else {
            return Err(de::Error::missing_field("currency"));
        };
        Ok(Money::new(amount, currency))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use serde::{Deserialize, Serialize};

    use crate::money::{Currency, Money, MoneyError};

    fn dec(text: &str) -> Decimal {
        Decimal::from_str_exact(text).unwrap()
    }

    fn brl(text: &str) -> Money {
        Money::brl(dec(text))
    }

    fn from_json(json: &str) -> Result<Money, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn currency_has_iso_code_and_two_minor_units() {
        assert_eq!(Currency::Brl.code(), "BRL");
        assert_eq!(Currency::Brl.minor_units(), 2);
        assert_eq!(Currency::Brl.to_string(), "BRL");
    }

    #[test]
    fn currency_parses_ignoring_case_and_rejects_others() {
        assert_eq!("BRL".parse::<Currency>(), Ok(Currency::Brl));
        assert_eq!("brl".parse::<Currency>(), Ok(Currency::Brl));
        assert_eq!("Brl".parse::<Currency>(), Ok(Currency::Brl));
        assert_eq!(
            "USD".parse::<Currency>(),
            Err(MoneyError::UnsupportedCurrency)
        );
        assert_eq!("".parse::<Currency>(), Err(MoneyError::UnsupportedCurrency));
    }

    #[test]
    fn currency_serializes_as_its_code() {
        assert_eq!(serde_json::to_string(&Currency::Brl).unwrap(), "\"BRL\"");
        let parsed: Currency = serde_json::from_str("\"BRL\"").unwrap();
        assert_eq!(parsed, Currency::Brl);
        assert!(serde_json::from_str::<Currency>("\"EUR\"").is_err());
    }

    #[test]
    fn decimal_strings_parse_exactly() {
        let cases = [
            ("50000.00", "50000.00"),
            ("12.12", "12.12"),
            ("20", "20"),
            ("-3.5", "-3.5"),
            ("0.1", "0.1"),
            ("0", "0"),
            ("12.12345", "12.12345"),
            (
                "0.0000000000000000000000000001",
                "0.0000000000000000000000000001",
            ),
        ];
        for (input, expected) in cases {
            let money = Money::parse(input, Currency::Brl).unwrap();
            assert_eq!(money.amount(), dec(expected), "{input}");
            assert_eq!(money.amount().scale(), dec(expected).scale(), "{input}");
            assert_eq!(money.currency(), Currency::Brl);
        }
    }

    #[test]
    fn scientific_notation_parses_exactly() {
        let cases = [
            ("1.5e2", "150"),
            ("1.5E2", "150"),
            ("1.5e+2", "150"),
            ("15e-1", "1.5"),
            ("1e-2", "0.01"),
            ("-2.5e1", "-25"),
            ("1.234e1", "12.34"),
        ];
        for (input, expected) in cases {
            let money = Money::parse(input, Currency::Brl).unwrap();
            assert_eq!(money.amount(), dec(expected), "{input}");
        }
    }

    #[test]
    fn empty_amount_is_rejected_as_empty() {
        assert_eq!(Money::parse("", Currency::Brl), Err(MoneyError::Empty));
    }

    #[test]
    fn non_numbers_are_rejected_as_not_a_number() {
        let inputs = [
            "NaN",
            "nan",
            "Infinity",
            "-Infinity",
            "inf",
            "-inf",
            " 12.12",
            "12.12 ",
            " ",
            "12,12",
            "1_000",
            "+5",
            "abc",
            "12.",
            ".5",
            "1e",
            "1e+",
            "--1",
            "0x10",
            "1.2.3",
            "12.12BRL",
            "١٢",
        ];
        for input in inputs {
            assert_eq!(
                Money::parse(input, Currency::Brl),
                Err(MoneyError::NotANumber),
                "{input:?}"
            );
        }
    }

    #[test]
    fn numbers_that_overflow_decimal_are_out_of_range() {
        let inputs = [
            "79228162514264337593543950336",
            "-79228162514264337593543950336",
            "1e29",
            "1e400",
            "1e99999999999999999999",
        ];
        for input in inputs {
            assert_eq!(
                Money::parse(input, Currency::Brl),
                Err(MoneyError::OutOfRange),
                "{input}"
            );
        }
    }

    #[test]
    fn numbers_too_precise_for_decimal_are_rejected_not_rounded() {
        let inputs = [
            "0.00000000000000000000000000001",
            "1.00000000000000000000000000001",
            "1e-29",
            "1e-400",
        ];
        for input in inputs {
            assert_eq!(
                Money::parse(input, Currency::Brl),
                Err(MoneyError::TooPrecise),
                "{input}"
            );
        }
    }

    #[test]
    fn display_pads_to_minor_units_without_rounding() {
        let cases = [
            ("20", "20.00 BRL"),
            ("12.1", "12.10 BRL"),
            ("12.12", "12.12 BRL"),
            ("12.12345", "12.12345 BRL"),
            ("100.000", "100.00 BRL"),
            ("2.50000", "2.50 BRL"),
            ("-3.5", "-3.50 BRL"),
            ("0", "0.00 BRL"),
            ("-0", "0.00 BRL"),
        ];
        for (input, expected) in cases {
            assert_eq!(brl(input).to_string(), expected, "{input}");
        }
    }

    #[test]
    fn minor_units_string_never_rounds() {
        assert_eq!(brl("20").to_minor_units_string(), "20.00");
        assert_eq!(brl("12.1").to_minor_units_string(), "12.10");
        assert_eq!(brl("12.12345").to_minor_units_string(), "12.12345");
        assert_eq!(brl("0.001").to_minor_units_string(), "0.001");
        assert_eq!(
            Money::brl(Decimal::MAX).to_minor_units_string(),
            "79228162514264337593543950335.00"
        );
    }

    #[test]
    fn debug_shows_amount_and_currency() {
        assert_eq!(format!("{:?}", brl("12.12")), "Money(12.12 BRL)");
        assert_eq!(format!("{:?}", brl("20")), "Money(20.00 BRL)");
    }

    #[test]
    fn equality_and_hash_ignore_trailing_zeros() {
        assert_eq!(brl("20"), brl("20.00"));
        let set: HashSet<Money> = [brl("20"), brl("20.0"), brl("20.000")]
            .into_iter()
            .collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn constructors_agree() {
        assert_eq!(
            Money::new(dec("1.5"), Currency::Brl),
            Money::brl(dec("1.5"))
        );
        assert_eq!(Money::zero(Currency::Brl).amount(), Decimal::ZERO);
        assert_eq!(Money::zero(Currency::Brl).currency(), Currency::Brl);
    }

    #[test]
    fn max_scale_ignores_trailing_zeros() {
        assert_eq!(brl("100.000").with_max_scale(2), Ok(brl("100")));
        assert_eq!(brl("12.12").with_max_scale(2), Ok(brl("12.12")));
        assert_eq!(brl("20").with_max_scale(0), Ok(brl("20")));
    }

    #[test]
    fn max_scale_rejects_extra_decimals_with_counts() {
        assert_eq!(
            brl("12.123").with_max_scale(2),
            Err(MoneyError::TooManyDecimals { max: 2, found: 3 })
        );
        assert_eq!(
            MoneyError::TooManyDecimals { max: 2, found: 3 }.to_string(),
            "amount has 3 decimal places, at most 2 allowed"
        );
    }

    #[test]
    fn payment_amount_must_be_positive() {
        assert_eq!(brl("0.01").ensure_payment_amount(), Ok(brl("0.01")));
        assert_eq!(brl("0").ensure_payment_amount(), Err(MoneyError::Zero));
        assert_eq!(brl("0.00").ensure_payment_amount(), Err(MoneyError::Zero));
        assert_eq!(brl("-0").ensure_payment_amount(), Err(MoneyError::Zero));
        assert_eq!(
            brl("-0.01").ensure_payment_amount(),
            Err(MoneyError::Negative)
        );
    }

    #[test]
    fn checked_arithmetic_is_exact() {
        assert_eq!(brl("0.1").checked_add(brl("0.2")), Ok(brl("0.3")));
        assert_eq!(brl("10").checked_sub(brl("0.01")), Ok(brl("9.99")));
        assert_eq!(brl("1").checked_sub(brl("2")), Ok(brl("-1")));
    }

    #[test]
    fn checked_arithmetic_reports_overflow() {
        let max = Money::brl(Decimal::MAX);
        assert_eq!(max.checked_add(brl("1")), Err(MoneyError::OutOfRange));
        let min = Money::brl(Decimal::MIN);
        assert_eq!(min.checked_sub(brl("1")), Err(MoneyError::OutOfRange));
    }

    #[test]
    fn error_messages_are_lowercase_without_trailing_period() {
        let errors = [
            MoneyError::Empty,
            MoneyError::NotANumber,
            MoneyError::OutOfRange,
            MoneyError::TooPrecise,
            MoneyError::TooManyDecimals { max: 2, found: 3 },
            MoneyError::Negative,
            MoneyError::Zero,
            MoneyError::CurrencyMismatch {
                left: Currency::Brl,
                right: Currency::Brl,
            },
            MoneyError::InexactNumber,
            MoneyError::UnsupportedCurrency,
        ];
        let mut codes = HashSet::new();
        for error in &errors {
            let message = error.to_string();
            let first = message.chars().next().unwrap();
            assert!(first.is_lowercase(), "{message}");
            assert!(!message.ends_with('.'), "{message}");
            assert!(
                codes.insert(error.code()),
                "duplicate code {}",
                error.code()
            );
        }
        assert_eq!(MoneyError::NotANumber.to_string(), "amount is not a number");
        assert_eq!(
            MoneyError::CurrencyMismatch {
                left: Currency::Brl,
                right: Currency::Brl
            }
            .to_string(),
            "currency mismatch: BRL and BRL"
        );
    }

    #[test]
    fn json_numbers_deserialize_exactly() {
        let cases = [
            ("12.12", "12.12"),
            ("100.0", "100"),
            ("20", "20"),
            ("2.50000", "2.5"),
            ("-7", "-7"),
            ("18446744073709551615", "18446744073709551615"),
            ("1.5e2", "150"),
            ("0.1", "0.1"),
        ];
        for (json, expected) in cases {
            assert_eq!(from_json(json).unwrap(), brl(expected), "{json}");
        }
    }

    #[test]
    fn json_numbers_keep_more_digits_than_f64_holds() {
        let money = from_json("1234567890123456.789").unwrap();
        assert_eq!(money.amount(), dec("1234567890123456.789"));
        assert_eq!(money.to_minor_units_string(), "1234567890123456.789");
    }

    #[test]
    fn json_point_one_plus_point_two_is_exactly_point_three() {
        let a = from_json("0.1").unwrap();
        let b = from_json("0.2").unwrap();
        let sum = a.checked_add(b).unwrap();
        assert_eq!(sum, brl("0.3"));
        assert_eq!(sum.amount().to_string(), "0.3");
        let json = serde_json::to_value(sum).unwrap();
        assert_eq!(json["amount"], "0.30");
        let back: Money = serde_json::from_value(json).unwrap();
        assert_eq!(back, brl("0.3"));
    }

    #[test]
    fn json_strings_deserialize_exactly() {
        assert_eq!(from_json("\"50000.00\"").unwrap(), brl("50000.00"));
        assert_eq!(from_json("\"12.12\"").unwrap(), brl("12.12"));
        assert_eq!(from_json("\"-3.5\"").unwrap(), brl("-3.5"));
    }

    #[test]
    fn json_nan_and_infinity_strings_are_rejected() {
        for json in [
            "\"NaN\"",
            "\"Infinity\"",
            "\"-Infinity\"",
            "\"inf\"",
            "\"\"",
            "\" 1\"",
        ] {
            assert!(from_json(json).is_err(), "{json}");
        }
        let error = from_json("\"NaN\"").unwrap_err().to_string();
        assert!(error.contains("amount is not a number"), "{error}");
    }

    #[test]
    fn json_values_of_other_types_are_rejected() {
        for json in [
            "null",
            "true",
            "[1]",
            "{}",
            "{\"amount\": \"1\"}",
            "{\"currency\": \"BRL\"}",
        ] {
            assert!(from_json(json).is_err(), "{json}");
        }
    }

    #[test]
    fn object_form_accepts_number_or_string_amounts() {
        let from_string = from_json(r#"{"amount": "12.12", "currency": "BRL"}"#).unwrap();
        let from_number = from_json(r#"{"amount": 12.12, "currency": "brl"}"#).unwrap();
        let reversed = from_json(r#"{"currency": "BRL", "amount": 12.12}"#).unwrap();
        assert_eq!(from_string, brl("12.12"));
        assert_eq!(from_number, brl("12.12"));
        assert_eq!(reversed, brl("12.12"));
    }

    #[test]
    fn object_form_rejects_unknown_or_duplicate_fields_and_other_currencies() {
        let inputs = [
            r#"{"amount": "1", "currency": "BRL", "extra": 1}"#,
            r#"{"amount": "1", "amount": "2", "currency": "BRL"}"#,
            r#"{"amount": "1", "currency": "USD"}"#,
            r#"{"amount": 1.5e400, "currency": "BRL"}"#,
        ];
        for json in inputs {
            assert!(from_json(json).is_err(), "{json}");
        }
    }

    #[test]
    fn float_visitor_is_refused() {
        let deserializer = serde::de::value::F64Deserializer::<serde::de::value::Error>::new(0.5);
        let error = Money::deserialize(deserializer).unwrap_err().to_string();
        assert_eq!(
            error,
            "amount must be sent as a decimal string or exact number"
        );
    }

    #[test]
    fn integer_visitors_are_exact() {
        let deserializer = serde::de::value::I64Deserializer::<serde::de::value::Error>::new(-42);
        assert_eq!(Money::deserialize(deserializer).unwrap(), brl("-42"));
        let deserializer =
            serde::de::value::U64Deserializer::<serde::de::value::Error>::new(u64::MAX);
        assert_eq!(
            Money::deserialize(deserializer).unwrap(),
            brl("18446744073709551615")
        );
    }

    #[test]
    fn serializes_as_object_with_decimal_string() {
        let json = serde_json::to_string(&brl("12.12")).unwrap();
        assert_eq!(json, r#"{"amount":"12.12","currency":"BRL"}"#);
        let json = serde_json::to_string(&brl("20")).unwrap();
        assert_eq!(json, r#"{"amount":"20.00","currency":"BRL"}"#);
    }

    #[test]
    fn money_inside_a_struct_and_a_json_value_round_trips() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Charge {
            amount: Money,
            #[serde(with = "crate::money::exact_decimal")]
            rate: Decimal,
        }
        let parsed: Charge = serde_json::from_str(r#"{"amount": 0.1, "rate": 1.99}"#).unwrap();
        assert_eq!(parsed.amount, brl("0.1"));
        assert_eq!(parsed.rate, dec("1.99"));
        let value = serde_json::to_value(&parsed).unwrap();
        assert_eq!(value["rate"], "1.99");
        let back: Charge = serde_json::from_value(value).unwrap();
        assert_eq!(back, parsed);
        let via_value: Charge =
            serde_json::from_value(serde_json::json!({"amount": "0.1", "rate": "1.99"})).unwrap();
        assert_eq!(via_value, parsed);
    }

    #[test]
    fn numbers_inside_a_json_value_are_refused_because_serde_json_hands_them_over_as_f64() {
        // `serde_json::from_value` gives a `Value` number that an f64 represents to the visitor as
        // an f64, which is refused; parse from text, or carry amounts as strings in a `Value`.
        let value = serde_json::json!({"amount": "12.12", "currency": "BRL"});
        assert_eq!(
            serde_json::from_value::<Money>(value).unwrap(),
            brl("12.12")
        );
        let number: serde_json::Value = serde_json::from_str("12.12").unwrap();
        assert!(serde_json::from_value::<Money>(number.clone()).is_err());
        assert_eq!(
            serde_json::from_str::<Money>(&number.to_string()).unwrap(),
            brl("12.12")
        );
        // Integers and numbers beyond f64 still arrive exactly.
        let integer: serde_json::Value = serde_json::from_str("20").unwrap();
        assert_eq!(serde_json::from_value::<Money>(integer).unwrap(), brl("20"));
        let long: serde_json::Value = serde_json::from_str("0.12345678901234567890").unwrap();
        assert_eq!(
            serde_json::from_value::<Money>(long).unwrap(),
            brl("0.12345678901234567890")
        );
    }

    #[test]
    fn exact_decimal_rejects_floats_and_garbage() {
        #[derive(Debug, Deserialize)]
        struct Rate {
            #[serde(with = "crate::money::exact_decimal")]
            #[allow(dead_code, reason = "only parsing is tested")]
            rate: Decimal,
        }
        assert!(serde_json::from_str::<Rate>(r#"{"rate": "NaN"}"#).is_err());
        assert!(serde_json::from_str::<Rate>(r#"{"rate": true}"#).is_err());
        assert!(serde_json::from_str::<Rate>(r#"{"rate": {"x": 1}}"#).is_err());
    }

    fn scaled_decimal() -> impl Strategy<Value = Decimal> {
        (any::<i64>(), 0u32..=5).prop_map(|(minor, scale)| Decimal::new(minor, scale))
    }

    proptest! {
        #[test]
        fn formatted_amounts_parse_back_exactly(amount in scaled_decimal()) {
            let money = Money::brl(amount);
            let text = money.to_minor_units_string();
            let parsed = Money::parse(&text, Currency::Brl).unwrap();
            prop_assert_eq!(parsed, money);
            prop_assert_eq!(parsed.to_minor_units_string(), text);
        }

        #[test]
        fn json_number_json_string_and_decimal_agree(amount in scaled_decimal()) {
            let text = amount.to_string();
            let from_number = from_json(&text).unwrap();
            let from_string = from_json(&format!("\"{text}\"")).unwrap();
            prop_assert_eq!(from_number, Money::brl(amount));
            prop_assert_eq!(from_string, Money::brl(amount));
            prop_assert_eq!(from_number.amount().scale(), amount.scale());
        }

        #[test]
        fn serialize_then_deserialize_round_trips(amount in scaled_decimal()) {
            let money = Money::brl(amount);
            let json = serde_json::to_string(&money).unwrap();
            let back: Money = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, money);
            prop_assert_eq!(serde_json::to_string(&back).unwrap(), json);
        }

        #[test]
        fn parse_never_panics_on_arbitrary_text(input in ".{0,40}") {
            let _ = Money::parse(&input, Currency::Brl);
        }
    }

    mod payment_amounts {
        use proptest::prelude::*;

        use crate::money::payment_amount::{PATTERN, parse};
        use crate::money::{Money, MoneyError};

        fn pattern() -> regex::Regex {
            regex::Regex::new(PATTERN).unwrap()
        }

        #[test]
        fn the_strict_grammar_takes_plain_positive_amounts_with_two_decimals_at_most() {
            for text in [
                "0.01",
                "0.1",
                "0.10",
                "1",
                "12.1",
                "12.10",
                "999999999999999.99",
            ] {
                assert!(parse(text).is_ok(), "{text}");
            }
            assert_eq!(parse("0.00"), Err(MoneyError::Zero));
            assert_eq!(parse("0"), Err(MoneyError::Zero));
            assert_eq!(parse("-1.00"), Err(MoneyError::Negative));
            assert!(matches!(
                parse("1.005"),
                Err(MoneyError::TooManyDecimals { max: 2, found: 3 })
            ));
            assert_eq!(parse("1000000000000000"), Err(MoneyError::OutOfRange));
            for text in ["", "1e2", "01.00", "1.", ".5", "+1", " 1", "1,00", "NaN"] {
                assert!(parse(text).is_err(), "{text:?}");
            }
        }

        #[test]
        fn an_amount_is_a_string_and_a_json_number_is_refused() {
            #[derive(serde::Deserialize)]
            struct Body {
                #[serde(deserialize_with = "crate::money::payment_amount::deserialize")]
                amount: Money,
            }
            let text: Body = serde_json::from_str(r#"{"amount": "12.10"}"#).unwrap();
            assert_eq!(text.amount.to_minor_units_string(), "12.10");
            for number in ["12.10", "2000", "1.5e2", "-1"] {
                let error = serde_json::from_str::<Body>(&format!(r#"{{"amount": {number}}}"#))
                    .err()
                    .unwrap();
                assert!(
                    error.to_string().contains("decimal string"),
                    "{number}: {error}"
                );
            }
            assert!(
                serde_json::from_str::<Body>(r#"{"amount": {"amount": "1", "currency": "BRL"}}"#)
                    .is_err()
            );
        }

        proptest! {
            #[test]
            fn every_amount_the_published_pattern_allows_is_accepted(text in proptest::string::string_regex(PATTERN.trim_start_matches('^').trim_end_matches('$')).unwrap()) {
                prop_assert!(parse(&text).is_ok(), "{text:?}");
            }

            #[test]
            fn an_amount_is_accepted_exactly_when_the_published_pattern_matches(text in "[-+0-9.eE ]{0,20}") {
                prop_assert_eq!(parse(&text).is_ok(), pattern().is_match(&text), "{:?}", text);
            }
        }
    }
}
