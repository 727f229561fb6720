//! Standard Webhooks v1 signatures for outbound deliveries (the `standardwebhooks` crate).
//!
//! `webhook-id` is the event id, so a partner dedupes redeliveries and replays of one event;
//! `webhook-signature` carries one `v1,` signature per valid secret: during a rotation both the new
//! and the previous secret sign, so receivers that still hold either verify.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

/// The headers of one signed delivery.
#[derive(Debug, Clone)]
pub struct SignedHeaders {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp` (Unix seconds).
    pub timestamp: i64,
    /// `webhook-signature`: space-separated `v1,<base64>` tokens.
    pub signature: String,
}

/// Why a payload could not be signed.
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the delivery: {0}")]
pub struct SigningError(String);

/// Signs `payload` with every secret in `secrets` (current first).
pub fn sign(
    id: &str,
    timestamp: i64,
    payload: &[u8],
    secrets: &[SecretString],
) -> Result<SignedHeaders, SigningError> {
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let webhook = standardwebhooks::Webhook::new(secret.expose_secret())
            .map_err(|error| SigningError(error.to_string()))?;
        signatures.push(
            webhook
                .sign(id, timestamp, payload)
                .map_err(|error| SigningError(error.to_string()))?,
        );
    }
    Ok(SignedHeaders {
        id: id.to_owned(),
        timestamp,
        signature: signatures.join(" "),
    })
}

/// A new subscription secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(format!("whsec_{}", STANDARD.encode(bytes)))
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
}
