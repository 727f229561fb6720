//! Secrets at rest: provider credentials are stored encrypted, still verify webhooks, and move to a
//! new key with `paygate secrets rekey` while the gateway keeps serving.

use e2e::app::{TestApp, expect_json, expect_problem, one_event};
use gateway::config::{EncryptionKey, EncryptionSettings, Settings};
use gateway::crypto::Keyring;
use gateway::secrets;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

/// The compiled default (development) key, active when the app starts.
const OLD_KEY_ID: &str = "dev-2026-11";
/// A second key, listed from the start so the running gateway can read what the rekey writes.
const NEW_KEY_ID: &str = "test-2026-12";
const NEW_KEY: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

fn with_new_key_listed(settings: &mut Settings) {
    settings.encryption.keys.push(EncryptionKey {
        id: NEW_KEY_ID.to_owned(),
        key: SecretString::from(NEW_KEY),
    });
}

/// The configuration after the operator made the new key active.
fn rotated(settings: &EncryptionSettings) -> Keyring {
    let mut rotated = settings.clone();
    rotated.active_key = NEW_KEY_ID.to_owned();
    Keyring::from_settings(&rotated).unwrap()
}

async fn app_with_registration() -> TestApp {
    TestApp::builder()
        .settings(with_new_key_listed)
        .with_test_registration()
        .spawn()
        .await
}

async fn register(app: &TestApp) {
    let response = app
        .post_json(
            "/v1/providers/testprov/webhooks",
            Some(&app.admin_key),
            Some("secrets-register"),
            &json!({}),
        )
        .await;
    expect_json(response, StatusCode::OK).await;
}

async fn rotate(app: &TestApp) {
    let response = app
        .post_json(
            "/v1/providers/testprov/webhooks/rotate",
            Some(&app.admin_key),
            Some("secrets-rotate"),
            &json!({"grace_seconds": 600}),
        )
        .await;
    expect_json(response, StatusCode::OK).await;
}

async fn stored_credentials(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("select secret from provider_credential order by created_at")
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_registered_credential_is_unreadable_in_its_row_and_still_verifies_webhooks() {
    let app = app_with_registration().await;

    register(&app).await;

    let stored = stored_credentials(&app).await;
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0].starts_with(&format!("enc:v1:{OLD_KEY_ID}:")),
        "{}",
        stored[0]
    );
    assert!(!stored[0].contains("registered-token"), "{}", stored[0]);
    assert_eq!(
        app.webhook_status("registered-token-0", "s1").await,
        StatusCode::OK
    );
    assert_eq!(
        app.webhook_status("registered-token-1", "s2").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn rekeying_moves_every_secret_to_the_new_key_and_webhooks_still_verify() {
    let app = app_with_registration().await;
    register(&app).await;
    rotate(&app).await;
    // A credential stored before encryption existed, on another path.
    sqlx::query(
        "insert into provider_credential
            (provider_credential_id, provider, path, registration_id, url, event_types, secret)
         values ($1, 'testprov', '/legacy', 'reg_legacy', 'http://legacy', '{}', 'legacy-token')",
    )
    .bind(uuid::Uuid::now_v7())
    .execute(&app.db.pool)
    .await
    .unwrap();
    // Partner subscriptions: one mid-rotation (two secrets), one with a single secret.
    let old_keyring = Keyring::from_settings(&app.settings.encryption).unwrap();
    for previous in [Some(old_keyring.encrypt("whsec_previous").unwrap()), None] {
        sqlx::query(
            "insert into subscription (subscription_id, url, event_types, secret, previous_secret)
             values ($1, 'https://partner.example/hooks', '{*}', $2, $3)",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(old_keyring.encrypt("whsec_current").unwrap())
        .bind(previous)
        .execute(&app.db.pool)
        .await
        .unwrap();
    }
    let new_keyring = rotated(&app.settings.encryption);

    // Batches of one row: every row is read, updated and committed on its own.
    let report = secrets::rekey(&app.db.pool, &new_keyring, 1).await.unwrap();

    let by_column = |name: &str| {
        report
            .columns
            .iter()
            .find(|column| column.column == name)
            .cloned()
            .unwrap()
    };
    let credentials = by_column("provider_credential.secret");
    assert_eq!(credentials.rekeyed, 3, "{report:?}");
    assert_eq!(credentials.were_plaintext, 1, "{report:?}");
    assert_eq!(by_column("subscription.secret").rekeyed, 2, "{report:?}");
    assert_eq!(
        by_column("subscription.previous_secret").rekeyed,
        1,
        "{report:?}"
    );
    assert_eq!(report.failed(), 0, "{report:?}");

    let prefix = format!("enc:v1:{NEW_KEY_ID}:");
    for stored in stored_credentials(&app).await {
        assert!(stored.starts_with(&prefix), "{stored}");
        assert!(!stored.contains("token"), "{stored}");
    }
    let subscription_secrets: Vec<Option<String>> = sqlx::query_scalar(
        "select secret from subscription union all select previous_secret from subscription",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    for stored in subscription_secrets.into_iter().flatten() {
        assert!(stored.starts_with(&prefix), "{stored}");
        let secret = new_keyring.decrypt(&stored).unwrap();
        assert!(
            ["whsec_current", "whsec_previous"].contains(&secret.expose_secret()),
            "the plaintext survives the rekey"
        );
    }
    // Both credentials of the rotation still verify, now read under the new key.
    assert_eq!(
        app.webhook_status("registered-token-0", "k1").await,
        StatusCode::OK
    );
    assert_eq!(
        app.webhook_status("registered-token-1", "k2").await,
        StatusCode::OK
    );
    assert_eq!(
        app.webhook_status("registered-token-2", "k3").await,
        StatusCode::UNAUTHORIZED
    );

    // Nothing is left to do: a second run rewrites nothing.
    let again = secrets::rekey(&app.db.pool, &new_keyring, 100)
        .await
        .unwrap();
    assert_eq!(again.rekeyed(), 0, "{again:?}");
    assert!(again.columns.iter().all(|column| column.examined == 0));
}

#[tokio::test]
async fn a_secret_under_a_key_no_longer_configured_is_reported_and_left_alone() {
    let app = app_with_registration().await;
    register(&app).await;
    let foreign = Keyring::from_settings(&EncryptionSettings {
        active_key: "retired".to_owned(),
        keys: vec![EncryptionKey {
            id: "retired".to_owned(),
            key: SecretString::from("LDS3cmzcm5UJpFdj/iQmC0SCjsE6VDFV8bnKJn6stI4="),
        }],
    })
    .unwrap();
    let orphan = foreign.encrypt("registered-token-0").unwrap();
    sqlx::query("update provider_credential set secret = $1")
        .bind(&orphan)
        .execute(&app.db.pool)
        .await
        .unwrap();

    let report = secrets::rekey(
        &app.db.pool,
        &rotated(&app.settings.encryption),
        secrets::DEFAULT_BATCH_SIZE,
    )
    .await
    .unwrap();

    assert_eq!(report.failed(), 1, "{report:?}");
    assert_eq!(stored_credentials(&app).await, vec![orphan]);
    // The verifier cannot read the credential: the provider is told to retry later, not that its
    // signature is wrong.
    let response = app
        .send_webhook(
            "",
            Some("registered-token-0"),
            one_event("o1", "loan.active", "ln").to_string(),
        )
        .await;
    expect_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "webhook_verifier_unavailable",
    )
    .await;
}

/// Every secret value shown once, searched for in every text, bytea and jsonb column of every
/// table: none may be there in the clear.
#[tokio::test]
async fn no_secret_shown_once_is_stored_in_the_clear_in_any_column() {
    let app = app_with_registration().await;
    register(&app).await;
    rotate(&app).await;
    let post = |path: &'static str, key: &'static str, body: serde_json::Value| {
        let app = &app;
        async move {
            let response = app
                .post_json(path, Some(&app.admin_key), Some(key), &body)
                .await;
            let status = response.status();
            assert!(status.is_success(), "{path}: {status}");
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let subscription = post(
        "/v1/subscriptions",
        "scan-sub",
        json!({"url": "http://127.0.0.1:9/hook", "event_types": ["*"]}),
    )
    .await;
    let id = subscription["id"].as_str().unwrap().to_owned();
    let rotated = expect_json(
        app.post_json(
            &format!("/v1/subscriptions/{id}/secret/rotate"),
            Some(&app.admin_key),
            Some("scan-rotate"),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let key = post(
        "/v1/api-keys",
        "scan-key",
        json!({"name": "scan", "scopes": ["events:read"]}),
    )
    .await;
    let mut secrets: Vec<String> = vec![
        subscription["secret"].as_str().unwrap().to_owned(),
        rotated["secret"].as_str().unwrap().to_owned(),
        key["key"].as_str().unwrap().to_owned(),
        app.admin_key.clone(),
    ];
    // The test provider's credentials registered and rotated through the gateway.
    secrets.extend((0..4).map(|n| format!("registered-token-{n}")));
    assert!(secrets[0].starts_with("whsec_") && secrets[2].starts_with("pgk_"));

    let found = e2e::db::secrets_in_the_clear(&app.db.pool, &secrets).await;
    assert!(found.is_empty(), "secrets in the clear: {found:?}");
}
