//! The partner's side of a subscription: Standard Webhooks `v1a` (Ed25519) signatures verified by
//! an implementation no one here wrote (Python's `cryptography`), both keys signing during a
//! rotation, and static headers on every delivery.

use std::process::Stdio;
use std::time::Duration;

use e2e::app::{TestApp, expect_json, expect_problem};
use e2e::receiver::{Received, Receiver};
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::delivery::{ingest, subscribe};

const WAIT: Duration = Duration::from_secs(20);

/// Checks a delivery's `v1a` signatures against `public_key` with Python's `cryptography`
/// (Ed25519 over the spec's signed content, `{webhook-id}.{webhook-timestamp}.{body}`); returns
/// how many of its signatures that key verifies.
async fn verified_by_python(delivery: &Received, public_key: &str) -> usize {
    const VERIFY: &str = r#"
import base64, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
key = Ed25519PublicKey.from_public_bytes(base64.b64decode(sys.argv[1].removeprefix("whpk_")))
content = f"{sys.argv[2]}.{sys.argv[3]}.".encode() + sys.stdin.buffer.read()
valid = 0
for token in sys.argv[4].split(" "):
    version, _, signature = token.partition(",")
    if version != "v1a":
        continue
    try:
        key.verify(base64.b64decode(signature), content)
        valid += 1
    except Exception:
        pass
print(valid)
"#;
    let header = |name: &str| {
        delivery
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut child = tokio::process::Command::new("python3")
        .args([
            "-c",
            VERIFY,
            public_key,
            &header("webhook-id"),
            &header("webhook-timestamp"),
            &header("webhook-signature"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (with the cryptography package)");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&delivery.raw).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "python verification failed to run: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap()
}

/// A gateway, a receiver, and a `v1a` subscription of it to every event.
async fn v1a_subscription() -> (TestApp, Receiver, serde_json::Value) {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let created = subscribe(
        &app,
        json!({"url": receiver.url, "event_types": ["*"], "signature_scheme": "v1a"}),
    )
    .await;
    (app, receiver, created)
}

#[tokio::test]
async fn v1a_deliveries_verify_with_the_public_key_in_an_independent_ed25519_implementation() {
    let (app, receiver, created) = v1a_subscription().await;
    let public_key = created["public_key"].as_str().unwrap().to_owned();
    assert!(public_key.starts_with("whpk_"), "{created}");
    assert!(
        created.get("secret").is_none(),
        "the signing key never leaves"
    );
    assert_eq!(created["signature_scheme"], "v1a");
    let id = created["id"].as_str().unwrap();
    let fetched = expect_json(
        app.get(&format!("/v1/subscriptions/{id}"), Some(&app.admin_key))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(fetched["public_key"], public_key.as_str());

    ingest(&app, "v1a-1", "loan.active", "ln_v1a").await;
    let received = receiver.wait_for_successes(1, WAIT).await;

    let signature = received[0].headers["webhook-signature"].to_str().unwrap();
    assert!(signature.starts_with("v1a,"), "{signature}");
    assert_eq!(verified_by_python(&received[0], &public_key).await, 1);
    // A key that did not sign verifies nothing: the check can fail.
    let (_, stranger) = gateway::delivery::signing::new_key_pair();
    assert_eq!(verified_by_python(&received[0], &stranger).await, 0);
    // The private key is sealed at rest like every secret.
    let stored: String =
        sqlx::query_scalar("select secret from subscription where public_key = $1")
            .bind(&public_key)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(stored.starts_with("enc:v1:"), "{stored}");
}

#[tokio::test]
async fn during_a_v1a_rotation_both_keys_sign_each_delivery_until_the_grace_period_ends() {
    let (app, receiver, created) = v1a_subscription().await;
    let old = created["public_key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap();

    let rotated = expect_json(
        app.post_json(
            &format!("/v1/subscriptions/{id}/secret/rotate"),
            Some(&app.admin_key),
            Some("rotate-v1a"),
            &json!({"grace_seconds": 3600}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let new = rotated["public_key"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    assert_eq!(rotated["previous_public_key"], old.as_str());
    assert!(rotated.get("secret").is_none());

    ingest(&app, "v1a-rot-1", "loan.active", "ln_v1a").await;
    let received = receiver.wait_for_successes(1, WAIT).await;
    let tokens = received[0].headers["webhook-signature"]
        .to_str()
        .unwrap()
        .split(' ')
        .count();
    assert_eq!(tokens, 2, "both keys sign during the grace period");
    assert_eq!(verified_by_python(&received[0], &new).await, 1);
    assert_eq!(verified_by_python(&received[0], &old).await, 1);

    // After the grace period only the new key signs, and the old one is no longer shown.
    sqlx::query("update subscription set previous_secret_expires_at = now() - interval '1 second'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    ingest(&app, "v1a-rot-2", "loan.active", "ln_v1a").await;
    let received = receiver.wait_for_successes(2, WAIT).await;
    assert_eq!(verified_by_python(&received[1], &new).await, 1);
    assert_eq!(verified_by_python(&received[1], &old).await, 0);
    let fetched = expect_json(
        app.get(&format!("/v1/subscriptions/{id}"), Some(&app.admin_key))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(fetched["previous_public_key"].is_null(), "{fetched}");
}

#[tokio::test]
async fn static_headers_go_with_every_delivery_and_their_values_are_never_shown_or_stored_in_the_clear()
 {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let created = subscribe(
        &app,
        json!({"url": receiver.url, "event_types": ["*"],
               "headers": {"X-Partner-Token": "tok-5f2a9c1e", "X-Env": "prod"}}),
    )
    .await;
    receiver.set_secrets(&[created["secret"].as_str().unwrap()]);
    assert_eq!(created["header_names"], json!(["x-env", "x-partner-token"]));
    assert!(!created.to_string().contains("tok-5f2a9c1e"));

    ingest(&app, "headers-1", "loan.active", "ln_h").await;
    let received = receiver.wait_for_successes(1, WAIT).await;
    assert_eq!(received[0].headers["x-partner-token"], "tok-5f2a9c1e");
    assert_eq!(received[0].headers["x-env"], "prod");
    assert_eq!(received[0].verified_with, vec![0], "still signed");
    assert!(
        e2e::db::secrets_in_the_clear(&app.db.pool, &["tok-5f2a9c1e".to_owned()])
            .await
            .is_empty(),
        "a header value is stored in the clear"
    );

    // Replaced as a whole by a patch, removed with null.
    let id = created["id"].as_str().unwrap();
    let patched = expect_json(
        app.patch_json(
            &format!("/v1/subscriptions/{id}"),
            Some(&app.admin_key),
            &json!({"headers": {"X-Other": "1"}}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["header_names"], json!(["x-other"]));
    let cleared = expect_json(
        app.patch_json(
            &format!("/v1/subscriptions/{id}"),
            Some(&app.admin_key),
            &json!({"headers": null}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cleared["header_names"], json!([]));
}

#[tokio::test]
async fn headers_that_would_override_signatures_or_break_the_connection_are_refused() {
    let app = TestApp::spawn().await;
    for (n, (name, value, pointer)) in [
        (
            "webhook-signature",
            "v1,forged",
            "/headers/webhook-signature",
        ),
        ("Webhook-Id", "evt_x", "/headers/Webhook-Id"),
        ("Content-Type", "text/plain", "/headers/Content-Type"),
        ("Transfer-Encoding", "chunked", "/headers/Transfer-Encoding"),
        ("Connection", "close", "/headers/Connection"),
        ("X-Split", "a\r\nX-Injected: 1", "/headers/X-Split"),
        ("bad name", "x", "/headers/bad name"),
    ]
    .into_iter()
    .enumerate()
    {
        let response = app
            .post_json(
                "/v1/subscriptions",
                Some(&app.admin_key),
                Some(&format!("bad-header-{n}")),
                &json!({"url": "http://127.0.0.1:9/hook", "event_types": ["*"], "headers": {name: value}}),
            )
            .await;
        let problem = expect_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(
            problem["errors"][0]["pointer"], pointer,
            "{name}: {problem}"
        );
    }
    let too_many: serde_json::Map<String, serde_json::Value> =
        (0..21).map(|n| (format!("x-h{n}"), json!("v"))).collect();
    let response = app
        .post_json(
            "/v1/subscriptions",
            Some(&app.admin_key),
            Some("too-many-headers"),
            &json!({"url": "http://127.0.0.1:9/hook", "event_types": ["*"], "headers": too_many}),
        )
        .await;
    let problem = expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/headers");
    let response = app
        .post_json(
            "/v1/subscriptions",
            Some(&app.admin_key),
            Some("bad-scheme"),
            &json!({"url": "http://127.0.0.1:9/hook", "event_types": ["*"], "signature_scheme": "v2"}),
        )
        .await;
    let problem = expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/signature_scheme");
}

/// `POST /v1/subscriptions/{id}/test` for `event_type`.
async fn send_test(app: &TestApp, id: &str, attempt: &str, event_type: &str) -> reqwest::Response {
    app.post_json(
        &format!("/v1/subscriptions/{id}/test"),
        Some(&app.admin_key),
        Some(attempt),
        &json!({ "event_type": event_type }),
    )
    .await
}

#[tokio::test]
async fn a_test_send_delivers_the_types_example_signed_with_its_headers_and_reports_the_answer() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let created = subscribe(
        &app,
        json!({"url": receiver.url, "event_types": ["loan.*"], "headers": {"X-Env": "staging"}}),
    )
    .await;
    receiver.set_secrets(&[created["secret"].as_str().unwrap()]);
    let id = created["id"].as_str().unwrap();

    // A type the subscription does not match is still sent: the partner asked for it.
    let sent = expect_json(
        send_test(&app, id, "test-send-1", "pix.received").await,
        StatusCode::OK,
    )
    .await;

    assert_eq!(sent["delivered"], true, "{sent}");
    assert_eq!(sent["response_status"], 200);
    assert_eq!(sent["event"]["type"], "pix.received");
    assert_eq!(sent["event"]["test"], true);
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].verified_with,
        vec![0],
        "signed like any delivery"
    );
    assert_eq!(received[0].headers["x-env"], "staging");
    assert_eq!(received[0].body["test"], true);
    assert_eq!(
        received[0].body["data"],
        providers::EventType::PixReceived.example_data().to_json()
    );
    assert_eq!(received[0].id, sent["event"]["id"].as_str().unwrap());
    // A test is not an event: nothing is stored.
    assert_eq!(app.count("event").await, 0);
    assert_eq!(app.count("delivery").await, 0);
}

#[tokio::test]
async fn a_test_send_to_a_failing_partner_reports_its_answer_and_bad_requests_are_refused() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.set_script(e2e::receiver::Script::Always(503));
    let created = subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    let id = created["id"].as_str().unwrap();

    let sent = expect_json(
        send_test(&app, id, "test-send-2", "loan.active").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(sent["delivered"], false);
    assert_eq!(sent["response_status"], 503);
    assert!(sent["error"].as_str().unwrap().contains("503"), "{sent}");

    let problem = expect_problem(
        send_test(&app, id, "test-send-3", "loan.teleported").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/event_type");
    expect_problem(
        send_test(
            &app,
            "sub_00000000000000000000000000000000",
            "test-send-4",
            "loan.active",
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
