//! Standard Webhooks signatures for outbound deliveries: `v1` (HMAC-SHA256, the `standardwebhooks`
//! crate) and `v1a` (Ed25519, `ed25519-dalek`), over the spec's signed content
//! `{webhook-id}.{webhook-timestamp}.{body}`.
//!
//! `webhook-id` is the event id, so a partner dedupes redeliveries and replays of one event;
//! `webhook-signature` carries one signature per valid key: during a rotation both the new and the
//! previous key sign, so receivers that still hold either verify. The key's prefix says its
//! scheme: `whsec_` (shared secret, `v1`) or `whsk_` (Ed25519 signing key, `v1a`, whose public
//! `whpk_` key partners verify with). Both keys are base64 of 32 bytes (a `whsk_` key is the
//! Ed25519 seed).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

/// The headers of one signed delivery.
#[derive(Debug, Clone)]
pub struct SignedHeaders {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp` (Unix seconds).
    pub timestamp: i64,
    /// `webhook-signature`: space-separated `v1,<base64>` / `v1a,<base64>` tokens.
    pub signature: String,
}

/// Why a payload could not be signed.
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the delivery: {0}")]
pub struct SigningError(String);

/// Signs `payload` with every key in `secrets` (current first), each by its own scheme.
pub fn sign(
    id: &str,
    timestamp: i64,
    payload: &[u8],
    secrets: &[SecretString],
) -> Result<SignedHeaders, SigningError> {
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let secret = secret.expose_secret();
        let signature = match secret.strip_prefix(SIGNING_KEY_PREFIX) {
            Some(seed) => {
                let key = signing_key(seed)?;
                let mut content = Vec::with_capacity(id.len() + payload.len() + 24);
                content.extend_from_slice(format!("{id}.{timestamp}.").as_bytes());
                content.extend_from_slice(payload);
                format!("v1a,{}", STANDARD.encode(key.sign(&content).to_bytes()))
            }
            None => standardwebhooks::Webhook::new(secret)
                .map_err(|error| SigningError(error.to_string()))?
                .sign(id, timestamp, payload)
                .map_err(|error| SigningError(error.to_string()))?,
        };
        signatures.push(signature);
    }
    Ok(SignedHeaders {
        id: id.to_owned(),
        timestamp,
        signature: signatures.join(" "),
    })
}

/// The prefix of an Ed25519 signing key (`v1a`).
pub const SIGNING_KEY_PREFIX: &str = "whsk_";
/// The prefix of an Ed25519 public key (`v1a`).
pub const PUBLIC_KEY_PREFIX: &str = "whpk_";

fn signing_key(seed: &str) -> Result<ed25519_dalek::SigningKey, SigningError> {
    let bytes = STANDARD
        .decode(seed)
        .map_err(|_| SigningError("the signing key is not base64".to_owned()))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| SigningError("the signing key is not 32 bytes".to_owned()))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// A new subscription secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(format!("whsec_{}", STANDARD.encode(bytes)))
}

/// A new Ed25519 key pair for `v1a`: the `whsk_` signing key (sealed at rest, never shown) and
/// the `whpk_` public key partners verify with.
pub fn new_key_pair() -> (SecretString, String) {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let public = format!(
        "{PUBLIC_KEY_PREFIX}{}",
        STANDARD.encode(key.verifying_key().to_bytes())
    );
    let secret = SecretString::from(format!("{SIGNING_KEY_PREFIX}{}", STANDARD.encode(seed)));
    (secret, public)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_the_standardwebhooks_crate() {
        let secret = new_secret();
        let payload = br#"{"id":"evt_1","type":"loan.active"}"#;
        let now = chrono::Utc::now().timestamp();

        let signed = sign("evt_1", now, payload, std::slice::from_ref(&secret)).unwrap();

        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", signed.id.parse().unwrap());
        headers.insert(
            "webhook-timestamp",
            signed.timestamp.to_string().parse().unwrap(),
        );
        headers.insert("webhook-signature", signed.signature.parse().unwrap());
        let verifier = standardwebhooks::Webhook::new(secret.expose_secret()).unwrap();
        assert!(verifier.verify(payload, &headers).is_ok());
    }

    #[test]
    fn during_a_rotation_holders_of_either_secret_verify() {
        let (current, previous) = (new_secret(), new_secret());
        let payload = b"{}";
        let now = chrono::Utc::now().timestamp();

        let signed = sign("evt_2", now, payload, &[current.clone(), previous.clone()]).unwrap();

        assert_eq!(signed.signature.split(' ').count(), 2);
        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", signed.id.parse().unwrap());
        headers.insert(
            "webhook-timestamp",
            signed.timestamp.to_string().parse().unwrap(),
        );
        headers.insert("webhook-signature", signed.signature.parse().unwrap());
        for secret in [current, previous] {
            let verifier = standardwebhooks::Webhook::new(secret.expose_secret()).unwrap();
            assert!(verifier.verify(payload, &headers).is_ok());
        }
        let stranger = standardwebhooks::Webhook::new(new_secret().expose_secret()).unwrap();
        assert!(stranger.verify(payload, &headers).is_err());
    }

    #[test]
    fn new_secrets_have_the_whsec_prefix_and_differ() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.expose_secret().starts_with("whsec_"));
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    fn ed25519_verifies(
        public: &str,
        id: &str,
        timestamp: i64,
        payload: &[u8],
        token: &str,
    ) -> bool {
        let public: [u8; 32] = STANDARD
            .decode(public.strip_prefix(PUBLIC_KEY_PREFIX).unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public).unwrap();
        let signature: [u8; 64] = STANDARD
            .decode(token.strip_prefix("v1a,").unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let mut content = format!("{id}.{timestamp}.").into_bytes();
        content.extend_from_slice(payload);
        key.verify_strict(&content, &ed25519_dalek::Signature::from_bytes(&signature))
            .is_ok()
    }

    #[test]
    fn a_v1a_signature_verifies_with_the_public_key_over_the_specs_signed_content() {
        let (secret, public) = new_key_pair();
        let payload = br#"{"id":"evt_1","type":"loan.active"}"#;

        let signed = sign(
            "evt_1",
            1_700_000_000,
            payload,
            std::slice::from_ref(&secret),
        )
        .unwrap();

        assert!(signed.signature.starts_with("v1a,"));
        assert!(ed25519_verifies(
            &public,
            "evt_1",
            1_700_000_000,
            payload,
            &signed.signature
        ));
        assert!(!ed25519_verifies(
            &public,
            "evt_1",
            1_700_000_001,
            payload,
            &signed.signature
        ));
        assert!(!ed25519_verifies(
            &public,
            "evt_1",
            1_700_000_000,
            b"{}",
            &signed.signature
        ));
    }

    #[test]
    fn during_a_rotation_both_keys_sign_each_by_its_scheme() {
        let (new, new_public) = new_key_pair();
        let (old, old_public) = new_key_pair();
        let payload = b"{}";

        let signed = sign("evt_2", 1_700_000_000, payload, &[new, old]).unwrap();

        let tokens: Vec<&str> = signed.signature.split(' ').collect();
        assert_eq!(tokens.len(), 2);
        assert!(ed25519_verifies(
            &new_public,
            "evt_2",
            1_700_000_000,
            payload,
            tokens[0]
        ));
        assert!(ed25519_verifies(
            &old_public,
            "evt_2",
            1_700_000_000,
            payload,
            tokens[1]
        ));
        assert!(!ed25519_verifies(
            &old_public,
            "evt_2",
            1_700_000_000,
            payload,
            tokens[0]
        ));
    }

    #[test]
    fn a_malformed_signing_key_is_an_error_not_a_panic() {
        let broken = SecretString::from("whsk_not base64!".to_owned());
        assert!(sign("evt_3", 0, b"{}", &[broken]).is_err());
        let short = SecretString::from(format!("whsk_{}", STANDARD.encode([1u8; 16])));
        assert!(sign("evt_3", 0, b"{}", &[short]).is_err());
    }
}
