//! Retries: only idempotent calls, on 5xx, timeouts and 429 (honouring `Retry-After`); the same
//! `Idempotency-Key` on every attempt of a create; a timeout on every call.

use std::time::{Duration, Instant};

use dinie::{Config, DinieClient};
use dinie_sim::{Fault, SimConfig};
use futures::TryStreamExt;
use providers::{KycDocumentUpload, ProviderError};

use crate::{key, new_customer, recorded, setup, setup_with};

fn fault(method: &str, path: &str, status: u16, times: u32) -> Fault {
    Fault {
        method: Some(method.to_owned()),
        path_prefix: Some(path.to_owned()),
        status: Some(status),
        times: Some(times),
        ..Fault::default()
    }
}

#[tokio::test]
async fn a_multipart_upload_is_retried_with_identical_bytes() {
    let setup = setup().await;
    let customer = setup
        .client
        .create_customer(&new_customer(3, "user-3"), &key())
        .await
        .unwrap();
    let path = format!("/customers/{}/documents", customer.id);
    setup.sim.add_fault(fault("POST", &path, 500, 1)).await;
    let upload = KycDocumentUpload {
        kind: "identity_front".into(),
        file_name: "rg.jpg".into(),
        content_type: "image/jpeg".into(),
        bytes: vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3],
    };
    let idempotency_key = key();
    let document = setup
        .client
        .upload_document(&customer.id, &upload, &idempotency_key)
        .await
        .unwrap();
    assert_eq!(document.kind, "identity_front");
    assert_eq!(document.status, "submitted");
    // A later call under the same key (a caller's retry) sends the same bytes: Dinie replays its
    // answer instead of refusing a reused key.
    let again = setup
        .client
        .upload_document(&customer.id, &upload, &idempotency_key)
        .await
        .unwrap();
    assert_eq!(again, document);
    let statuses: Vec<u16> = recorded(&setup.sim, "POST", &path)
        .await
        .iter()
        .map(|request| request.status)
        .collect();
    assert_eq!(statuses, [500, 201, 201]);
}

#[tokio::test]
async fn a_429_waits_for_retry_after_then_succeeds() {
    let setup = setup().await;
    setup
        .sim
        .add_fault(Fault {
            retry_after_secs: Some(1),
            ..fault("GET", "/credit-offers", 429, 1)
        })
        .await;
    let started = Instant::now();

    let offers: Vec<_> = setup
        .client
        .list_credit_offers(None, None)
        .try_collect()
        .await
        .unwrap();

    assert!(offers.is_empty());
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    let statuses: Vec<u16> = recorded(&setup.sim, "GET", "/credit-offers")
        .await
        .iter()
        .map(|request| request.status)
        .collect();
    assert_eq!(statuses, [429, 200]);
}

#[tokio::test]
async fn a_429_asking_for_longer_than_the_cap_fails_at_once_with_the_delay() {
    let setup = setup().await;
    setup
        .sim
        .add_fault(Fault {
            retry_after_secs: Some(120),
            ..fault("GET", "/credit-offers", 429, 1)
        })
        .await;

    let error = setup.client.get_credit_offer("co_x").await.unwrap_err();

    assert_eq!(
        error,
        ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(120))
        }
    );
    assert_eq!(
        recorded(&setup.sim, "GET", "/credit-offers/co_x")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_slow_answer_times_out_and_the_whole_call_is_bounded() {
    let setup = setup_with(SimConfig::fast(), |config| {
        config.timeout_ms = 200;
        config.total_timeout_ms = 700;
    })
    .await;
    // The token arrives quickly; every read then hangs for 5 s.
    setup.client.get_credit_offer("co_warm").await.unwrap_err();
    setup
        .sim
        .add_fault(Fault {
            method: Some("GET".into()),
            path_prefix: Some("/loans".into()),
            delay_ms: Some(5_000),
            ..Fault::default()
        })
        .await;
    let started = Instant::now();

    let error = setup.client.get_loan("ln_slow").await.unwrap_err();

    assert_eq!(
        error,
        ProviderError::Timeout {
            operation: "get_loan".into()
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_dinie_is_unavailable() {
    // Bind a port, then free it: nothing listens there any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let mut config = Config::new(
        &format!("http://{address}/v3"),
        "dinie_ci_x",
        "dinie_cs_test_y",
    );
    config.retries.base_delay_ms = 1;
    let client = DinieClient::new(&config).unwrap();

    let error = client.get_loan("ln_1").await.unwrap_err();

    assert!(
        matches!(error, ProviderError::Unavailable { status: None, .. }),
        "{error:?}"
    );
}
