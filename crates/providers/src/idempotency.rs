//! Idempotency keys: what makes a retried create safe, both on the gateway's own API and on every
//! provider call that creates something.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest key accepted, in characters.
/// The longest key, in bytes.
pub const MAX_LENGTH: usize = 255;
/// A valid key as a regular expression: 1 to 255 visible ASCII characters (0x21 to 0x7E).
pub const PATTERN: &str = "^[!-~]{1,255}$";

/// An idempotency key: 1 to 255 visible ASCII characters (`!` to `~`, no spaces).
///
/// A capability method that creates something sends it to the provider and reuses the same key
/// on every retry of the same logical request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(String);

/// Why a string is not a valid idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidIdempotencyKey {
    /// The key is empty.
    #[error("idempotency key must not be empty")]
    Empty,
    /// The key is longer than 255 characters.
    #[error("idempotency key must be at most 255 characters, found {length}")]
    TooLong {
        /// The length of the refused key, in bytes.
        length: usize,
    },
    /// The key contains a space, a control character or a non-ASCII character.
    #[error("idempotency key must contain only visible ascii characters")]
    InvalidCharacter,
}

impl IdempotencyKey {
    /// Validates a key received from a client or built by the gateway.
    pub fn parse(input: &str) -> Result<IdempotencyKey, InvalidIdempotencyKey> {
        if input.is_empty() {
            return Err(InvalidIdempotencyKey::Empty);
        }
        if !input.bytes().all(|byte| (0x21..=0x7E).contains(&byte)) {
            return Err(InvalidIdempotencyKey::InvalidCharacter);
        }
        if input.len() > MAX_LENGTH {
            return Err(InvalidIdempotencyKey::TooLong {
                length: input.len(),
            });
        }
        Ok(IdempotencyKey(input.to_owned()))
    }

    /// A fresh, unique key (a UUID v7 in hyphenated form), for requests the gateway starts itself.
    pub fn new_random() -> IdempotencyKey {
        IdempotencyKey(uuid::Uuid::now_v7().hyphenated().to_string())
    }

    /// The key as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for IdempotencyKey {
    type Err = InvalidIdempotencyKey;

    fn from_str(input: &str) -> Result<IdempotencyKey, InvalidIdempotencyKey> {
        IdempotencyKey::parse(input)
    }
}

impl Serialize for IdempotencyKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for IdempotencyKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<IdempotencyKey, D::Error> {
        struct KeyVisitor;

        impl Visitor<'_> for KeyVisitor {
            type Value = IdempotencyKey;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an idempotency key of 1 to 255 visible ascii characters")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<IdempotencyKey, E> {
                IdempotencyKey::parse(value).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::idempotency::{IdempotencyKey, InvalidIdempotencyKey};

    #[test]
    fn visible_ascii_keys_are_accepted() {
        for input in [
            "a",
            "order-123",
            "!~",
            "0190b2c4-d5e6-7f8a-9b0c-1d2e3f4a5b6c",
        ] {
            assert_eq!(IdempotencyKey::parse(input).unwrap().as_str(), input);
        }
        let longest = "k".repeat(255);
        assert!(IdempotencyKey::parse(&longest).is_ok());
    }

    #[test]
    fn empty_key_is_rejected() {
        assert_eq!(IdempotencyKey::parse(""), Err(InvalidIdempotencyKey::Empty));
    }

    #[test]
    fn key_longer_than_255_characters_is_rejected() {
        assert_eq!(
            IdempotencyKey::parse(&"k".repeat(256)),
            Err(InvalidIdempotencyKey::TooLong { length: 256 })
        );
    }

    #[test]
    fn spaces_control_and_non_ascii_characters_are_rejected() {
        for input in ["a b", " a", "a\n", "a\t", "chave-ç", "\u{7f}"] {
            assert_eq!(
                IdempotencyKey::parse(input),
                Err(InvalidIdempotencyKey::InvalidCharacter),
                "{input:?}"
            );
        }
    }

    #[test]
    fn random_keys_are_valid_and_distinct() {
        let first = IdempotencyKey::new_random();
        let second = IdempotencyKey::new_random();
        assert_ne!(first, second);
        assert_eq!(IdempotencyKey::parse(first.as_str()), Ok(first.clone()));
        assert_eq!(first.to_string(), first.as_str());
    }

    #[test]
    fn serde_uses_the_plain_string_and_validates() {
        let key = IdempotencyKey::parse("abc-1").unwrap();
        assert_eq!(serde_json::to_string(&key).unwrap(), "\"abc-1\"");
        let back: IdempotencyKey = serde_json::from_str("\"abc-1\"").unwrap();
        assert_eq!(back, key);
        assert!(serde_json::from_str::<IdempotencyKey>("\"\"").is_err());
        assert!(serde_json::from_str::<IdempotencyKey>("\"a b\"").is_err());
    }

    proptest! {
        #[test]
        fn any_visible_ascii_string_of_valid_length_is_accepted(input in "[!-~]{1,255}") {
            let key = IdempotencyKey::parse(&input).unwrap();
            prop_assert_eq!(key.as_str(), input.as_str());
        }
    }

    proptest! {
        #[test]
        fn a_key_is_valid_exactly_when_the_published_pattern_matches(text in "[ -~\\t\u{e9}]{0,260}") {
            let pattern = regex::Regex::new(crate::idempotency::PATTERN).unwrap();
            prop_assert_eq!(IdempotencyKey::parse(&text).is_ok(), pattern.is_match(&text));
        }
    }
}
