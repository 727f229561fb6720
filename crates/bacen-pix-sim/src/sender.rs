//! The callback sender: one task per callback, `POST {webhookUrl}/pix` with `{"pix": [...]}`,
//! retried with exponential backoff on anything but a 2xx, shaped by the `drop_callbacks` and
//! `duplicate_callbacks` knobs. Every attempt is logged.
//!
//! The spec authenticates the callback by mTLS at the receiver; the simulator calls plain HTTP
//! receivers (the gateway in tests) as they are and HTTPS ones trusting the simulator's CA.

use crate::Shared;
use crate::state::{Callback, Delivery};
use crate::tls::Pki;

/// The sender's client: trusts the simulator's CA besides the usual roots.
pub(crate) fn http_client(pki: &Pki) -> Result<reqwest::Client, String> {
    let pem = std::fs::read(&pki.ca_cert_pem).map_err(|error| format!("read the ca: {error}"))?;
    let ca = reqwest::Certificate::from_pem(&pem).map_err(|error| format!("the ca: {error}"))?;
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .map_err(|error| format!("the callback client: {error}"))
}

/// Sends `callback` in the background.
pub(crate) fn send(shared: &Shared, callback: Callback) {
    let shared = shared.clone();
    tokio::spawn(async move {
        let (dropped, duplicate) =
            shared.with(|state| (state.knobs.drop_callbacks, state.knobs.duplicate_callbacks));
        if dropped {
            shared.with(|state| {
                state.deliveries.push(Delivery {
                    url: callback.url.clone(),
                    attempt: 1,
                    duplicate: false,
                    dropped: true,
                    status: None,
                    body: callback.body.clone(),
                });
            });
            return;
        }
        send_with_retries(&shared, &callback, false).await;
        if duplicate {
            send_with_retries(&shared, &callback, true).await;
        }
    });
}

async fn send_with_retries(shared: &Shared, callback: &Callback, duplicate: bool) {
    let policy = shared.config.callbacks;
    let attempts = policy.attempts.max(1);
    for attempt in 1..=attempts {
        let status = shared
            .http
            .post(&callback.url)
            .timeout(policy.timeout)
            .header("content-type", "application/json")
            .header("user-agent", "BacenPixSimulator/1.0")
            .body(callback.body.clone())
            .send()
            .await
            .ok()
            .map(|response| response.status().as_u16());
        shared.with(|state| {
            state.deliveries.push(Delivery {
                url: callback.url.clone(),
                attempt,
                duplicate,
                dropped: false,
                status,
                body: callback.body.clone(),
            });
        });
        if status.is_some_and(|status| (200..300).contains(&status)) {
            return;
        }
        if attempt < attempts {
            let factor = 2_u32.saturating_pow(attempt - 1);
            tokio::time::sleep(policy.base_delay.saturating_mul(factor)).await;
        }
    }
}
