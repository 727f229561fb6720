//! Secrets encrypted at rest: partner subscription secrets and provider webhook credentials are
//! stored as `enc:v1:<key_id>:<base64(nonce || ciphertext)>`, never as plaintext.
//!
//! Why this shape:
//! - A database dump, a backup or a read-only SQL account must not be enough to forge webhooks, so
//!   secrets are encrypted with keys that live only in the configuration (`[encryption]`).
//! - XChaCha20-Poly1305 has a 24-byte nonce, large enough to pick at random for every value with no
//!   risk of reuse, and authenticates the ciphertext: a flipped byte is an error, not garbage.
//! - The key id travels with each value so keys rotate without downtime: a new key is added and made
//!   active, every listed key still decrypts, and `paygate secrets rekey` re-encrypts old values.
//! - The prefix `enc:v1:<key_id>` is the associated data, so a value cannot be relabelled with
//!   another key id (or format version) without failing authentication.
//! - Plaintext values are refused on read ([`CryptoError::NotEncrypted`]): accepting them would let
//!   anyone able to write a row plant a secret they know. `paygate secrets rekey` encrypts values
//!   stored before encryption existed.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};

use crate::config::EncryptionSettings;

/// What every encrypted value starts with.
pub const ENCRYPTED_PREFIX: &str = "enc:";

/// The format version written by [`Keyring::encrypt`].
const VERSION: &str = "v1";

/// Bytes of an XChaCha20 nonce.
const NONCE_LEN: usize = 24;

/// Bytes of a data-encryption key.
const KEY_LEN: usize = 32;

/// The data-encryption keys of this process: the active one encrypts, every one decrypts.
///
/// `Debug` shows the key ids only, never key material.
pub struct Keyring {
    active_key: String,
    ciphers: BTreeMap<String, XChaCha20Poly1305>,
}

/// Why a keyring could not be built, or a value could not be encrypted or decrypted. Messages name
/// key ids, never keys or secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// `encryption.keys` is empty.
    #[error("no encryption key configured: `encryption.keys` is empty")]
    NoKeys,
    /// `encryption.active_key` names no listed key.
    #[error("the active key `{key_id}` is not in `encryption.keys`")]
    ActiveKeyMissing {
        /// The configured `active_key`.
        key_id: String,
    },
    /// A key id is empty or has characters other than ASCII letters, digits, `.`, `_` and `-`.
    #[error("invalid key id `{key_id}`: expected ASCII letters, digits, `.`, `_` or `-`")]
    InvalidKeyId {
        /// The offending id.
        key_id: String,
    },
    /// Two keys share an id.
    #[error("key id `{key_id}` is listed twice in `encryption.keys`")]
    DuplicateKeyId {
        /// The repeated id.
        key_id: String,
    },
    /// A key is not the base64 of exactly 32 bytes.
    #[error("key `{key_id}` is not the base64 of exactly 32 bytes")]
    InvalidKey {
        /// The id of the bad key.
        key_id: String,
    },
    /// The stored value is plaintext (no `enc:` prefix).
    #[error("the stored value is not encrypted")]
    NotEncrypted,
    /// The stored value starts with `enc:` but does not have the expected shape.
    #[error("the stored value is not in the `enc:v1:<key_id>:<base64>` format")]
    Malformed,
    /// The value was encrypted with a key this process does not have.
    #[error("the stored value is encrypted with key `{key_id}`, which is not configured")]
    UnknownKey {
        /// The key id found in the value.
        key_id: String,
    },
    /// Authentication failed: the value was altered, relabelled, or encrypted with another key of
    /// the same id.
    #[error("the stored value encrypted with key `{key_id}` failed authentication")]
    Tampered {
        /// The key id found in the value.
        key_id: String,
    },
    /// The cipher refused the plaintext (it is larger than XChaCha20-Poly1305 can encrypt).
    #[error("encryption with key `{key_id}` failed")]
    EncryptionFailed {
        /// The active key id.
        key_id: String,
    },
}

impl Keyring {
    /// Builds the keyring from `[encryption]`: every key must be the base64 of 32 bytes, ids must be
    /// unique and well-formed, and the active key must be listed.
    pub fn from_settings(settings: &EncryptionSettings) -> Result<Keyring, CryptoError> {
        if settings.keys.is_empty() {
            return Err(CryptoError::NoKeys);
        }
        let mut ciphers = BTreeMap::new();
        for key in &settings.keys {
            if !is_valid_key_id(&key.id) {
                return Err(CryptoError::InvalidKeyId {
                    key_id: key.id.clone(),
                });
            }
            if ciphers.contains_key(&key.id) {
                return Err(CryptoError::DuplicateKeyId {
                    key_id: key.id.clone(),
                });
            }
            let invalid = || CryptoError::InvalidKey {
                key_id: key.id.clone(),
            };
            let bytes = Zeroizing::new(
                STANDARD
                    .decode(key.key.expose_secret().trim())
                    .map_err(|_| invalid())?,
            );
            if bytes.len() != KEY_LEN {
                return Err(invalid());
            }
            let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| invalid())?;
            ciphers.insert(key.id.clone(), cipher);
        }
        if !ciphers.contains_key(&settings.active_key) {
            return Err(CryptoError::ActiveKeyMissing {
                key_id: settings.active_key.clone(),
            });
        }
        Ok(Keyring {
            active_key: settings.active_key.clone(),
            ciphers,
        })
    }

    /// The id of the key new values are encrypted with.
    pub fn active_key(&self) -> &str {
        &self.active_key
    }

    /// Encrypts `plaintext` with the active key and a fresh random nonce, in the stored format.
    ///
    /// The only failure is a plaintext beyond the cipher's limit (about 256 GiB), reported rather
    /// than panicking.
    pub fn encrypt(&self, plaintext: &str) -> Result<String, CryptoError> {
        let failed = || CryptoError::EncryptionFailed {
            key_id: self.active_key.clone(),
        };
        let cipher = self.ciphers.get(&self.active_key).ok_or_else(failed)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let label = label(&self.active_key);
        let ciphertext = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: label.as_bytes(),
                },
            )
            .map_err(|_| failed())?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(format!("{label}:{}", STANDARD.encode(sealed)))
    }

    /// Decrypts a stored value with whichever listed key it names.
    pub fn decrypt(&self, stored: &str) -> Result<SecretString, CryptoError> {
        let parsed = parse(stored)?;
        let cipher = self
            .ciphers
            .get(parsed.key_id)
            .ok_or_else(|| CryptoError::UnknownKey {
                key_id: parsed.key_id.to_owned(),
            })?;
        let tampered = || CryptoError::Tampered {
            key_id: parsed.key_id.to_owned(),
        };
        let sealed = STANDARD
            .decode(parsed.payload)
            .map_err(|_| CryptoError::Malformed)?;
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| CryptoError::Malformed)?;
        let label = label(parsed.key_id);
        let plaintext = Zeroizing::new(
            cipher
                .decrypt(
                    &nonce,
                    Payload {
                        msg: ciphertext,
                        aad: label.as_bytes(),
                    },
                )
                .map_err(|_| tampered())?,
        );
        let text = std::str::from_utf8(&plaintext).map_err(|_| tampered())?;
        Ok(SecretString::from(text))
    }

    /// Whether `stored` is encrypted with the active key (plaintext and other keys are not).
    pub fn is_current(&self, stored: &str) -> bool {
        match parse(stored) {
            Ok(parsed) => parsed.key_id == self.active_key,
            Err(_) => false,
        }
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("active_key", &self.active_key)
            .field("key_ids", &self.ciphers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The key id a stored value names, if it is in the encrypted format (for reports; no decryption).
pub fn key_id_of(stored: &str) -> Option<&str> {
    match parse(stored) {
        Ok(parsed) => Some(parsed.key_id),
        Err(_) => None,
    }
}

/// The parts of a stored value.
struct Parsed<'a> {
    key_id: &'a str,
    payload: &'a str,
}

fn parse(stored: &str) -> Result<Parsed<'_>, CryptoError> {
    let Some(rest) = stored.strip_prefix(ENCRYPTED_PREFIX) else {
        return Err(CryptoError::NotEncrypted);
    };
    let Some((version, rest)) = rest.split_once(':') else {
        return Err(CryptoError::Malformed);
    };
    if version != VERSION {
        return Err(CryptoError::Malformed);
    }
    let Some((key_id, payload)) = rest.split_once(':') else {
        return Err(CryptoError::Malformed);
    };
    if !is_valid_key_id(key_id) {
        return Err(CryptoError::Malformed);
    }
    Ok(Parsed { key_id, payload })
}

/// `enc:v1:<key_id>`: the prefix of a stored value and its associated data.
fn label(key_id: &str) -> String {
    format!("{ENCRYPTED_PREFIX}{VERSION}:{key_id}")
}

fn is_valid_key_id(key_id: &str) -> bool {
    !key_id.is_empty()
        && key_id.len() <= 64
        && key_id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use secrecy::{ExposeSecret, SecretString};

    use crate::config::{EncryptionKey, EncryptionSettings};
    use crate::crypto::{CryptoError, Keyring};

    const KEY_A: &str = "LDS3cmzcm5UJpFdj/iQmC0SCjsE6VDFV8bnKJn6stI4=";
    const KEY_B: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

    fn settings(active: &str, keys: &[(&str, &str)]) -> EncryptionSettings {
        EncryptionSettings {
            active_key: active.to_owned(),
            keys: keys
                .iter()
                .map(|(id, key)| EncryptionKey {
                    id: (*id).to_owned(),
                    key: SecretString::from(*key),
                })
                .collect(),
        }
    }

    fn keyring(active: &str, keys: &[(&str, &str)]) -> Keyring {
        Keyring::from_settings(&settings(active, keys)).unwrap()
    }

    #[test]
    fn a_secret_round_trips_through_encryption() {
        let keyring = keyring("a", &[("a", KEY_A)]);
        let stored = keyring
            .encrypt("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        assert!(stored.starts_with("enc:v1:a:"), "{stored}");
        assert!(!stored.contains("whsec_"), "{stored}");
        let secret = keyring.decrypt(&stored).unwrap();
        assert_eq!(
            secret.expose_secret(),
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        );
    }

    #[test]
    fn an_empty_secret_round_trips_too() {
        let keyring = keyring("a", &[("a", KEY_A)]);
        let stored = keyring.encrypt("").unwrap();
        assert_eq!(keyring.decrypt(&stored).unwrap().expose_secret(), "");
    }

    #[test]
    fn flipping_any_byte_of_the_ciphertext_is_detected() {
        use base64::Engine;
        use base64::engine::general_purpose::STANDARD;

        let keyring = keyring("a", &[("a", KEY_A)]);
        let stored = keyring.encrypt("token-123").unwrap();
        let (label, payload) = stored.rsplit_once(':').unwrap();
        let sealed = STANDARD.decode(payload).unwrap();
        for index in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[index] ^= 0x01;
            let tampered = format!("{label}:{}", STANDARD.encode(&altered));
            assert_eq!(
                keyring.decrypt(&tampered).unwrap_err(),
                CryptoError::Tampered { key_id: "a".into() },
                "byte {index}"
            );
        }
    }

    #[test]
    fn a_truncated_or_garbled_value_is_malformed() {
        let keyring = keyring("a", &[("a", KEY_A)]);
        for stored in [
            "enc:",
            "enc:v1",
            "enc:v1:a",
            "enc:v1:a:AAAA",
            "enc:v1:a:not base64!",
            "enc:v2:a:AAAA",
            "enc:v1::AAAA",
        ] {
            assert_eq!(
                keyring.decrypt(stored).unwrap_err(),
                CryptoError::Malformed,
                "{stored}"
            );
        }
    }

    #[test]
    fn relabelling_a_value_with_another_key_id_fails_authentication() {
        let keyring = keyring("a", &[("a", KEY_A), ("b", KEY_A)]);
        let stored = keyring.encrypt("token-123").unwrap();
        // Same key bytes under another id: only the associated data differs, and it is checked.
        let relabelled = stored.replacen("enc:v1:a:", "enc:v1:b:", 1);
        assert_eq!(
            keyring.decrypt(&relabelled).unwrap_err(),
            CryptoError::Tampered { key_id: "b".into() }
        );
    }

    #[test]
    fn a_value_under_an_unknown_key_id_names_that_key() {
        let writer = keyring("old", &[("old", KEY_A)]);
        let reader = keyring("new", &[("new", KEY_B)]);
        let stored = writer.encrypt("token-123").unwrap();
        assert_eq!(
            reader.decrypt(&stored).unwrap_err(),
            CryptoError::UnknownKey {
                key_id: "old".into()
            }
        );
    }

    #[test]
    fn a_different_key_under_the_same_id_fails_authentication() {
        let writer = keyring("k", &[("k", KEY_A)]);
        let reader = keyring("k", &[("k", KEY_B)]);
        let stored = writer.encrypt("token-123").unwrap();
        assert_eq!(
            reader.decrypt(&stored).unwrap_err(),
            CryptoError::Tampered { key_id: "k".into() }
        );
    }

    #[test]
    fn an_old_key_still_decrypts_after_a_new_one_becomes_active() {
        let before = keyring("old", &[("old", KEY_A)]);
        let stored = before.encrypt("token-123").unwrap();
        let after = keyring("new", &[("old", KEY_A), ("new", KEY_B)]);

        assert_eq!(after.decrypt(&stored).unwrap().expose_secret(), "token-123");
        assert!(!after.is_current(&stored));
        let rekeyed = after.encrypt("token-123").unwrap();
        assert!(rekeyed.starts_with("enc:v1:new:"), "{rekeyed}");
        assert!(after.is_current(&rekeyed));
        assert!(before.is_current(&stored));
    }

    #[test]
    fn plaintext_is_refused_and_never_current() {
        let keyring = keyring("a", &[("a", KEY_A)]);
        assert_eq!(
            keyring.decrypt("whsec_plain").unwrap_err(),
            CryptoError::NotEncrypted
        );
        assert!(!keyring.is_current("whsec_plain"));
        assert!(!keyring.is_current("enc:v1:a"));
    }

    #[test]
    fn the_same_plaintext_encrypts_differently_each_time() {
        let keyring = keyring("a", &[("a", KEY_A)]);
        let first = keyring.encrypt("token-123").unwrap();
        let second = keyring.encrypt("token-123").unwrap();
        assert_ne!(first, second);
        assert_eq!(
            keyring.decrypt(&first).unwrap().expose_secret(),
            "token-123"
        );
        assert_eq!(
            keyring.decrypt(&second).unwrap().expose_secret(),
            "token-123"
        );
    }

    #[test]
    fn debug_output_shows_key_ids_but_never_key_material() {
        let keyring = keyring("a", &[("a", KEY_A), ("b", KEY_B)]);
        let debug = format!("{keyring:?}");
        assert!(
            debug.contains("\"a\"") && debug.contains("\"b\""),
            "{debug}"
        );
        for key in [KEY_A, KEY_B] {
            assert!(!debug.contains(key), "{debug}");
            assert!(!debug.contains(&key[..8]), "{debug}");
        }
        let settings_debug = format!("{:?}", settings("a", &[("a", KEY_A)]));
        assert!(!settings_debug.contains(KEY_A), "{settings_debug}");
    }

    #[test]
    fn the_active_key_must_be_listed() {
        let error = Keyring::from_settings(&settings("missing", &[("a", KEY_A)])).unwrap_err();
        assert_eq!(
            error,
            CryptoError::ActiveKeyMissing {
                key_id: "missing".into()
            }
        );
        assert_eq!(
            error.to_string(),
            "the active key `missing` is not in `encryption.keys`"
        );
    }

    #[test]
    fn keys_must_be_the_base64_of_32_bytes_and_errors_name_the_id_not_the_key() {
        let short = "c2hvcnQ=";
        let not_base64 = "not*base64*at*all";
        let too_long = "LDS3cmzcm5UJpFdj/iQmC0SCjsE6VDFV8bnKJn6stI4AAAA=";
        for bad in [short, not_base64, too_long] {
            let error = Keyring::from_settings(&settings("bad", &[("bad", bad)])).unwrap_err();
            assert_eq!(
                error,
                CryptoError::InvalidKey {
                    key_id: "bad".into()
                }
            );
            assert!(!error.to_string().contains(bad), "{error}");
        }
    }

    #[test]
    fn key_ids_must_be_unique_and_well_formed() {
        assert_eq!(
            Keyring::from_settings(&settings("a", &[("a", KEY_A), ("a", KEY_B)])).unwrap_err(),
            CryptoError::DuplicateKeyId { key_id: "a".into() }
        );
        for bad_id in ["", "has:colon", "has space"] {
            assert_eq!(
                Keyring::from_settings(&settings(bad_id, &[(bad_id, KEY_A)])).unwrap_err(),
                CryptoError::InvalidKeyId {
                    key_id: bad_id.into()
                }
            );
        }
        assert_eq!(
            Keyring::from_settings(&settings("a", &[])).unwrap_err(),
            CryptoError::NoKeys
        );
    }

    #[test]
    fn the_compiled_default_key_builds_a_keyring() {
        let settings = crate::config::Settings::defaults().unwrap();
        let keyring = Keyring::from_settings(&settings.encryption).unwrap();
        assert_eq!(keyring.active_key(), "dev-2026-11");
    }
}
