//! `/v1/providers/{provider}/webhooks`: registering the gateway's endpoint at a provider, rotating
//! its credential with a grace period, and verifying inbound webhooks with the stored credentials.

use std::sync::Arc;
use std::time::Duration;

use e2e::app::{TestApp, expect_json, expect_problem, one_event};
use e2e::eventually;
use e2e::source::{PROVIDER, TestRegistration};
use gateway::credentials::PgCredentialStore;
use gateway::crypto::Keyring;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn app_with_registration() -> TestApp {
    TestApp::builder().with_test_registration().spawn().await
}

/// `POST path` as admin with `idempotency_key`, asserting 200; the JSON answer.
async fn post_ok(app: &TestApp, path: &str, idempotency_key: &str, body: Value) -> Value {
    let response = app
        .post_json(path, Some(&app.admin_key), Some(idempotency_key), &body)
        .await;
    expect_json(response, StatusCode::OK).await
}

#[tokio::test]
async fn registering_stores_a_credential_that_inbound_webhooks_are_verified_with() {
    let app = app_with_registration().await;

    let registered = post_ok(&app, "/v1/providers/testprov/webhooks", "reg-1", json!({})).await;

    assert_eq!(
        registered["data"][0]["url"],
        format!("{}/webhooks/testprov", app.settings.server.public_url)
    );
    assert!(
        registered.to_string().find("registered-token").is_none(),
        "credentials are never returned"
    );
    let stored: i64 =
        sqlx::query_scalar("select count(*) from provider_credential where provider = 'testprov'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(stored, 1);
    assert_eq!(
        app.webhook_status("registered-token-0", "r1").await,
        StatusCode::OK
    );
    assert_eq!(
        app.webhook_status("registered-token-9", "r2").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn during_a_rotation_both_credentials_are_accepted_until_the_grace_period_ends() {
    let app = app_with_registration().await;
    post_ok(&app, "/v1/providers/testprov/webhook", "reg-2", json!({})).await;

    let rotated = post_ok(
        &app,
        "/v1/providers/testprov/webhook/rotate",
        "rot-1",
        json!({"grace_seconds": 2}),
    )
    .await;
    let grace_ends: chrono::DateTime<chrono::Utc> =
        rotated["data"][0]["previous_secret_expires_at"]
            .as_str()
            .expect("the end of the grace period")
            .parse()
            .unwrap();

    assert_eq!(
        app.webhook_status("registered-token-0", "g1").await,
        StatusCode::OK
    );
    assert_eq!(
        app.webhook_status("registered-token-1", "g2").await,
        StatusCode::OK
    );

    // The grace period ends (the credentials verified with are cached, their end of validity
    // with them): the old credential is refused, the new one still works.
    let left = (grace_ends - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(50)).await;
    assert_eq!(
        app.webhook_status("registered-token-0", "g3").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.webhook_status("registered-token-1", "g4").await,
        StatusCode::OK
    );
}

/// What another replica sharing the database (or `paygate providers ...`) does: its own store.
fn another_replica(app: &TestApp) -> PgCredentialStore {
    let keyring = Keyring::from_settings(&app.settings.encryption).expect("keyring");
    PgCredentialStore::new(app.db.pool.clone(), Arc::new(keyring), Duration::ZERO)
}

#[tokio::test]
async fn a_credential_registered_by_another_replica_is_accepted_at_once_despite_the_cache() {
    let app = app_with_registration().await;
    // This replica reads (and caches) the credentials: none yet.
    assert_eq!(
        app.webhook_status("registered-token-0", "x1").await,
        StatusCode::UNAUTHORIZED
    );

    let provider = providers::ProviderName::parse(PROVIDER).unwrap();
    gateway::credentials::register(
        &another_replica(&app),
        &provider,
        &TestRegistration::default(),
        "http://other-replica",
    )
    .await
    .expect("registered elsewhere");

    assert_eq!(
        app.webhook_status("registered-token-0", "x2").await,
        StatusCode::OK
    );
    assert_eq!(
        app.webhook_status("registered-token-7", "x3").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_credential_retired_by_another_replica_is_refused_once_the_cache_expires() {
    let app = TestApp::builder()
        .with_test_registration()
        .settings(|settings| settings.ingest.credential_cache_ms = 300)
        .spawn()
        .await;
    post_ok(&app, "/v1/providers/testprov/webhooks", "reg-4", json!({})).await;
    assert_eq!(
        app.webhook_status("registered-token-0", "e1").await,
        StatusCode::OK
    );

    sqlx::query("update provider_credential set not_after = now() - interval '1 second'")
        .execute(&app.db.pool)
        .await
        .unwrap();

    let mut attempt = 0;
    let refused = eventually(Duration::from_secs(5), || {
        attempt += 1;
        let id = format!("e-retry-{attempt}");
        let app = &app;
        async move {
            (app.webhook_status("registered-token-0", &id).await == StatusCode::UNAUTHORIZED)
                .then_some(())
        }
    })
    .await;
    assert!(
        refused.is_some(),
        "the retired credential is still accepted"
    );
}

#[tokio::test]
async fn a_rotation_with_no_grace_refuses_the_old_credential_at_once() {
    let app = app_with_registration().await;
    post_ok(&app, "/v1/providers/testprov/webhooks", "reg-3", json!({})).await;
    post_ok(
        &app,
        "/v1/providers/testprov/webhooks/rotate",
        "rot-2",
        json!({"grace_seconds": 0, "registration_id": "reg_1"}),
    )
    .await;

    assert_eq!(
        app.webhook_status("registered-token-0", "n1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.webhook_status("registered-token-1", "n2").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn rotation_requests_are_validated() {
    let app = app_with_registration().await;
    let too_long = app
        .post_json(
            "/v1/providers/testprov/webhooks/rotate",
            Some(&app.admin_key),
            Some("rot-3"),
            &json!({"grace_seconds": 86_401}),
        )
        .await;
    let problem = expect_problem(
        too_long,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/grace_seconds");

    let unknown = app
        .post_json(
            "/v1/providers/testprov/webhooks/rotate",
            Some(&app.admin_key),
            Some("rot-4"),
            &json!({"registration_id": "reg_nope"}),
        )
        .await;
    expect_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_provider_without_self_registration_is_404() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json(
            "/v1/providers/testprov/webhooks",
            Some(&app.admin_key),
            Some("reg-4"),
            &json!({}),
        )
        .await;
    expect_problem(response, StatusCode::NOT_FOUND, "registration_unsupported").await;
}

#[tokio::test]
async fn registration_needs_the_providers_write_scope() {
    let app = app_with_registration().await;
    let reader = app.key_with(&[gateway::keys::Scope::EventsRead]).await;
    let response = app
        .post_json(
            "/v1/providers/testprov/webhooks",
            Some(&reader),
            Some("reg-5"),
            &json!({}),
        )
        .await;
    expect_problem(response, StatusCode::FORBIDDEN, "insufficient_scope").await;
}

#[tokio::test]
async fn with_the_credential_store_down_a_webhook_gets_503_not_401() {
    let app = app_with_registration().await;
    app.db.take_offline().await;
    let response = app
        .send_webhook(
            "",
            Some("registered-token-0"),
            one_event("d1", "loan.active", "ln").to_string(),
        )
        .await;
    expect_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "webhook_verifier_unavailable",
    )
    .await;
    app.db.bring_online().await;
}
