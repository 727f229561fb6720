//! Pix identifiers defined by the Banco Central do Brasil.

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a Pix end-to-end id identifies, from its first letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndToEndKind {
    /// `E`: a payment.
    Payment,
    /// `D` (devolução): a refund of an earlier payment.
    Refund,
}

/// A Pix end-to-end id (`endToEndId`), the SPI's unique id of one payment or refund.
///
/// 32 characters: `E` or `D`, the 8-digit ISPB of the institution that created it, its UTC
/// creation time as `yyyyMMddHHmm`, then 11 alphanumerics. Not PII: `Display` shows it in full.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PixEndToEndId {
    value: String,
    kind: EndToEndKind,
    timestamp: NaiveDateTime,
}

/// Why a Pix end-to-end id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EndToEndIdError {
    /// The input is not exactly 32 characters long.
    #[error("end-to-end id must have 32 characters, found {found}")]
    WrongLength {
        /// How many characters the input has.
        found: usize,
    },
    /// The first character is neither `E` nor `D`.
    #[error("end-to-end id must start with E or D")]
    WrongPrefix,
    /// Characters 2 to 9 are not an 8-digit ISPB.
    #[error("end-to-end id must carry an 8-digit ispb after its first letter")]
    InvalidIspb,
    /// Characters 10 to 21 are not a valid `yyyyMMddHHmm` date and time.
    #[error("end-to-end id must carry a valid yyyymmddhhmm timestamp after the ispb")]
    InvalidTimestamp,
    /// The last 11 characters are not all ASCII letters or digits.
    #[error("end-to-end id must end with 11 letters or digits")]
    InvalidSuffix,
}

const LENGTH: usize = 32;
const ISPB: std::ops::Range<usize> = 1..9;
const TIMESTAMP: std::ops::Range<usize> = 9..21;
const SUFFIX: std::ops::Range<usize> = 21..32;

impl PixEndToEndId {
    /// Parses and validates an end-to-end id (case matters: the prefix is an uppercase `E`/`D`).
    pub fn parse(input: &str) -> Result<PixEndToEndId, EndToEndIdError> {
        let found = input.chars().count();
        if found != LENGTH {
            return Err(EndToEndIdError::WrongLength { found });
        }
        if let Some(index) = input.chars().position(|character| !character.is_ascii()) {
            return Err(error_at(index));
        }
        let bytes = input.as_bytes();
        let kind = match bytes.first() {
            Some(b'E') => EndToEndKind::Payment,
            Some(b'D') => EndToEndKind::Refund,
            _ => return Err(EndToEndIdError::WrongPrefix),
        };
        let all = |range: std::ops::Range<usize>, test: fn(&u8) -> bool| {
            bytes.get(range).is_some_and(|part| part.iter().all(test))
        };
        if !all(ISPB, u8::is_ascii_digit) {
            return Err(EndToEndIdError::InvalidIspb);
        }
        if !all(TIMESTAMP, u8::is_ascii_digit) {
            return Err(EndToEndIdError::InvalidTimestamp);
        }
        let Some(timestamp) = parse_timestamp(input.get(TIMESTAMP).unwrap_or_default()) else {
            return Err(EndToEndIdError::InvalidTimestamp);
        };
        if !all(SUFFIX, u8::is_ascii_alphanumeric) {
            return Err(EndToEndIdError::InvalidSuffix);
        }
        Ok(PixEndToEndId {
            value: input.to_owned(),
            kind,
            timestamp,
        })
    }

    /// The id as received.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Payment (`E`) or refund (`D`).
    pub fn kind(&self) -> EndToEndKind {
        self.kind
    }

    /// The 8-digit ISPB of the institution that created the id.
    pub fn ispb(&self) -> &str {
        self.value.get(ISPB).unwrap_or_default()
    }

    /// When the id was created, in UTC, to the minute.
    pub fn timestamp(&self) -> NaiveDateTime {
        self.timestamp
    }
}

/// The error for a bad character at `index`.
fn error_at(index: usize) -> EndToEndIdError {
    match index {
        0 => EndToEndIdError::WrongPrefix,
        _ if ISPB.contains(&index) => EndToEndIdError::InvalidIspb,
        _ if TIMESTAMP.contains(&index) => EndToEndIdError::InvalidTimestamp,
        _ => EndToEndIdError::InvalidSuffix,
    }
}

/// Reads `yyyyMMddHHmm` (already known to be 12 ASCII digits) as a calendar date and time.
fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<u32>().ok();
    let year = i32::try_from(number(0..4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(4..6)?, number(6..8)?)?;
    date.and_hms_opt(number(8..10)?, number(10..12)?, 0)
}

impl FromStr for PixEndToEndId {
    type Err = EndToEndIdError;

    fn from_str(input: &str) -> Result<PixEndToEndId, EndToEndIdError> {
        PixEndToEndId::parse(input)
    }
}

impl fmt::Debug for PixEndToEndId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PixEndToEndId({})", self.value)
    }
}

impl fmt::Display for PixEndToEndId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl Serialize for PixEndToEndId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.value)
    }
}

impl<'de> Deserialize<'de> for PixEndToEndId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PixEndToEndId, D::Error> {
        struct EndToEndIdVisitor;

        impl Visitor<'_> for EndToEndIdVisitor {
            type Value = PixEndToEndId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 32-character pix end-to-end id")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<PixEndToEndId, E> {
                PixEndToEndId::parse(value).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(EndToEndIdVisitor)
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use proptest::prelude::*;

    use crate::pix::{EndToEndIdError, EndToEndKind, PixEndToEndId};

    const VALID: &str = "E38224857202601151230abcDEF12345";

    fn check_error(input: &str, expected: EndToEndIdError) {
        assert_eq!(PixEndToEndId::parse(input), Err(expected), "{input}");
    }

    #[test]
    fn valid_payment_id_exposes_its_parts() {
        let id = PixEndToEndId::parse(VALID).unwrap();
        assert_eq!(id.as_str(), VALID);
        assert_eq!(id.kind(), EndToEndKind::Payment);
        assert_eq!(id.ispb(), "38224857");
        let expected = NaiveDate::from_ymd_opt(2026, 1, 15)
            .unwrap()
            .and_hms_opt(12, 30, 0)
            .unwrap();
        assert_eq!(id.timestamp(), expected);
        assert_eq!(id.to_string(), VALID);
        assert_eq!(format!("{id:?}"), format!("PixEndToEndId({VALID})"));
    }

    #[test]
    fn refund_ids_start_with_d() {
        let id = PixEndToEndId::parse("D18236120202512312359A1B2C3D4E5F").unwrap();
        assert_eq!(id.kind(), EndToEndKind::Refund);
        assert_eq!(id.ispb(), "18236120");
    }

    #[test]
    fn wrong_lengths_are_rejected() {
        check_error("", EndToEndIdError::WrongLength { found: 0 });
        check_error(&VALID[..31], EndToEndIdError::WrongLength { found: 31 });
        check_error(
            &format!("{VALID}0"),
            EndToEndIdError::WrongLength { found: 33 },
        );
        // 32 bytes but 31 characters.
        check_error(
            "E38224857202601151230abcDEF123é",
            EndToEndIdError::WrongLength { found: 31 },
        );
        // 32 characters, one of them not ASCII.
        check_error(
            "E38224857202601151230abcDEF1234é",
            EndToEndIdError::InvalidSuffix,
        );
        check_error(
            "É38224857202601151230abcDEF12345",
            EndToEndIdError::WrongPrefix,
        );
    }

    #[test]
    fn wrong_prefixes_are_rejected() {
        for prefix in ["e", "X", "0", "d"] {
            check_error(
                &format!("{prefix}{}", &VALID[1..]),
                EndToEndIdError::WrongPrefix,
            );
        }
    }

    #[test]
    fn non_digit_ispb_is_rejected() {
        check_error(
            "E3822485A202601151230abcDEF12345",
            EndToEndIdError::InvalidIspb,
        );
    }

    #[test]
    fn impossible_timestamps_are_rejected() {
        for timestamp in [
            "202602301230",
            "202613011230",
            "202601002359",
            "202601152400",
            "202601151260",
            "2026011512x0",
            "202502291200",
        ] {
            check_error(
                &format!("E38224857{timestamp}abcDEF12345"),
                EndToEndIdError::InvalidTimestamp,
            );
        }
        assert!(PixEndToEndId::parse("E38224857202402291200abcDEF12345").is_ok());
    }

    #[test]
    fn non_alphanumeric_suffix_is_rejected() {
        check_error(
            "E38224857202601151230abc-EF12345",
            EndToEndIdError::InvalidSuffix,
        );
    }

    #[test]
    fn serde_uses_the_plain_string() {
        let id = PixEndToEndId::parse(VALID).unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{VALID}\""));
        let back: PixEndToEndId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<PixEndToEndId>("\"E123\"").is_err());
    }

    #[test]
    fn error_messages_are_lowercase() {
        let errors = [
            EndToEndIdError::WrongLength { found: 3 },
            EndToEndIdError::WrongPrefix,
            EndToEndIdError::InvalidIspb,
            EndToEndIdError::InvalidTimestamp,
            EndToEndIdError::InvalidSuffix,
        ];
        for error in errors {
            let message = error.to_string();
            assert!(message.starts_with("end-to-end id"), "{message}");
            assert!(!message.ends_with('.'), "{message}");
        }
    }

    fn valid_id() -> impl Strategy<Value = String> {
        (
            prop_oneof![Just('E'), Just('D')],
            "[0-9]{8}",
            2000i32..=2099,
            1u32..=12,
            1u32..=28,
            0u32..=23,
            0u32..=59,
            "[A-Za-z0-9]{11}",
        )
            .prop_map(|(prefix, ispb, year, month, day, hour, minute, suffix)| {
                format!("{prefix}{ispb}{year:04}{month:02}{day:02}{hour:02}{minute:02}{suffix}")
            })
    }

    proptest! {
        #[test]
        fn generated_valid_ids_parse_and_round_trip(text in valid_id()) {
            let id = PixEndToEndId::parse(&text).unwrap();
            prop_assert_eq!(id.as_str(), text.as_str());
            prop_assert_eq!(id.ispb(), &text[1..9]);
            prop_assert_eq!(id.timestamp().format("%Y%m%d%H%M").to_string(), &text[9..21]);
            let reparsed: PixEndToEndId = id.to_string().parse().unwrap();
            prop_assert_eq!(reparsed, id);
        }

        #[test]
        fn any_input_of_the_wrong_length_is_rejected(text in "[A-Za-z0-9]{0,64}") {
            prop_assume!(text.len() != 32);
            prop_assert_eq!(
                PixEndToEndId::parse(&text),
                Err(EndToEndIdError::WrongLength { found: text.len() })
            );
        }

        #[test]
        fn parse_never_panics_on_arbitrary_text(input in ".{0,40}") {
            let _ = PixEndToEndId::parse(&input);
        }
    }
}
