//! The webhook sender: one task per delivery, authenticated per registration
//! (`Authorization: Basic|Bearer <authorization>`, or the `Name: value` header of HEADER), retried
//! with exponential backoff on anything but a 2xx, and shaped by the fault knobs (delay, duplicate,
//! wrong credential). Every attempt is logged in the state's delivery log.

use std::time::Duration;

use crate::Shared;
use crate::state::{Delivery, Emit};

/// How the credential of an attempt is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wrong {
    Never,
    FirstAttempt,
    Always,
}

/// Sends every webhook of `emits` to every matching registration, in the background.
pub(crate) fn emit_all(shared: &Shared, emits: Vec<Emit>) {
    for emit in emits {
        let targets = shared.with(|state| state.targets(&emit.account, emit.event_type));
        let body = emit.body.to_string();
        for (webhook_id, url, scheme, authorization) in targets {
            let shared = shared.clone();
            let body = body.clone();
            let event_type = emit.event_type;
            tokio::spawn(async move {
                deliver(
                    &shared,
                    webhook_id,
                    event_type,
                    &url,
                    &scheme,
                    &authorization,
                    &body,
                )
                .await;
            });
        }
    }
}

async fn deliver(
    shared: &Shared,
    webhook_id: u64,
    event_type: &str,
    url: &str,
    scheme: &str,
    authorization: &str,
    body: &str,
) {
    let (delay, duplicate, wrong) = shared.with(|state| {
        let knobs = &mut state.knobs;
        let wrong = match knobs.wrong_credential_deliveries {
            0 => Wrong::Never,
            u32::MAX => Wrong::Always,
            _ => {
                knobs.wrong_credential_deliveries -= 1;
                Wrong::FirstAttempt
            }
        };
        (
            Duration::from_millis(knobs.delivery_delay_ms),
            knobs.duplicate_deliveries,
            wrong,
        )
    });
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let target = Target {
        webhook_id,
        event_type,
        url,
        scheme,
        authorization,
        body,
    };
    send_with_retries(shared, &target, wrong, false).await;
    if duplicate {
        send_with_retries(shared, &target, Wrong::Never, true).await;
    }
}

struct Target<'a> {
    webhook_id: u64,
    event_type: &'a str,
    url: &'a str,
    scheme: &'a str,
    authorization: &'a str,
    body: &'a str,
}

async fn send_with_retries(shared: &Shared, target: &Target<'_>, wrong: Wrong, duplicate: bool) {
    let policy = shared.config.delivery;
    for attempt in 1..=policy.attempts.max(1) {
        let wrong_now = match wrong {
            Wrong::Never => false,
            Wrong::FirstAttempt => attempt == 1,
            Wrong::Always => true,
        };
        let status = send_once(shared, target, wrong_now, policy.timeout).await;
        shared.with(|state| {
            state.deliveries.push(Delivery {
                webhook_id: target.webhook_id,
                event_type: target.event_type.to_owned(),
                url: target.url.to_owned(),
                attempt,
                duplicate,
                wrong_credential: wrong_now,
                status,
                body: target.body.to_owned(),
            });
        });
        if status.is_some_and(|status| (200..300).contains(&status)) {
            return;
        }
        if attempt < policy.attempts {
            let factor = 2_u32.saturating_pow(attempt - 1);
            tokio::time::sleep(policy.base_delay.saturating_mul(factor)).await;
        }
    }
}

async fn send_once(
    shared: &Shared,
    target: &Target<'_>,
    wrong: bool,
    timeout: Duration,
) -> Option<u16> {
    let mut request = shared
        .http
        .post(target.url)
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("user-agent", "DelbankSimulator/1.0")
        .body(target.body.to_owned());
    let secret = match wrong {
        true => format!("{}-wrong", target.authorization),
        false => target.authorization.to_owned(),
    };
    match target.scheme.to_ascii_uppercase().as_str() {
        "BASIC" => request = request.header("authorization", format!("Basic {secret}")),
        "BEARER" => request = request.header("authorization", format!("Bearer {secret}")),
        "HEADER" => {
            let (name, value) = match target.authorization.split_once(':') {
                Some((name, value)) => (name.trim().to_owned(), value.trim().to_owned()),
                None => (
                    "authorization".to_owned(),
                    target.authorization.trim().to_owned(),
                ),
            };
            let value = match wrong {
                true => format!("{value}-wrong"),
                false => value,
            };
            request = request.header(name, value);
        }
        _ => {}
    }
    match request.send().await {
        Ok(response) => Some(response.status().as_u16()),
        Err(_) => None,
    }
}
