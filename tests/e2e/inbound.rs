//! `POST /webhooks/{provider}`: verification, exactly-once storage, quarantine, failure modes.

use e2e::app::{TestApp, expect_json, expect_problem, one_event};
use e2e::source::TOKEN;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_verified_webhook_is_stored_and_acknowledged_after_commit() {
    let app = TestApp::spawn().await;
    let body = json!({"events": [{"id": "wh_1", "type": "loan.active", "resource": "ln_1", "amount": 12.12}]});

    let receipt = expect_json(
        app.send_webhook("", Some(TOKEN), body.to_string()).await,
        StatusCode::OK,
    )
    .await;

    assert_eq!(receipt["status"], "stored");
    assert_eq!(receipt["events"][0]["duplicate"], false);
    let id = receipt["events"][0]["id"].as_str().unwrap().to_owned();
    // Acknowledged means committed: the event is readable the moment the answer arrives.
    let event = expect_json(
        app.get(&format!("/v1/events/{id}"), Some(&app.admin_key))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(event["type"], "loan.active");
    assert_eq!(event["provider"], "testprov");
    assert_eq!(event["dedup_key"], "wh_1");
    // A loan's money is its net amount in the typed event data.
    assert_eq!(
        event["data"]["net_amount"],
        json!({"amount": "12.12", "currency": "BRL"})
    );
}

#[tokio::test]
async fn the_raw_bytes_are_kept_exactly_as_received() {
    let app = TestApp::spawn().await;
    // Odd spacing and key order: a re-serialization would change these bytes.
    let body = "{ \"events\":[ {\"type\":\"loan.active\", \"id\":\"wh_raw\",\"resource\":\"ln_9\",  \"amount\": 100.10 } ] }";

    let receipt = expect_json(
        app.send_webhook("", Some(TOKEN), body).await,
        StatusCode::OK,
    )
    .await;
    let id = receipt["events"][0]["id"].as_str().unwrap();

    let raw = app
        .get(&format!("/v1/events/{id}/raw"), Some(&app.admin_key))
        .await;
    assert_eq!(raw.status(), StatusCode::OK);
    assert_eq!(raw.bytes().await.unwrap().as_ref(), body.as_bytes());
}

#[tokio::test]
async fn a_redelivered_webhook_is_a_successful_no_op() {
    let app = TestApp::spawn().await;
    let body = one_event("wh_dup", "loan.signed", "ln_2").to_string();

    let first = expect_json(
        app.send_webhook("", Some(TOKEN), body.clone()).await,
        StatusCode::OK,
    )
    .await;
    let second = expect_json(
        app.send_webhook("", Some(TOKEN), body).await,
        StatusCode::OK,
    )
    .await;

    assert_eq!(second["events"][0]["duplicate"], true);
    assert_eq!(first["events"][0]["id"], second["events"][0]["id"]);
    assert_eq!(app.count("event").await, 1);
}

#[tokio::test]
async fn concurrent_redeliveries_store_exactly_one_event() {
    let app = TestApp::spawn().await;
    let body = one_event("wh_race", "pix.received", "E1").to_string();

    let sends = (0..16).map(|_| app.send_webhook("", Some(TOKEN), body.clone()));
    let responses = futures::future::join_all(sends).await;

    let mut ids = Vec::new();
    for response in responses {
        let receipt = expect_json(response, StatusCode::OK).await;
        ids.push(receipt["events"][0]["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(
        ids.len(),
        1,
        "every delivery must name the same event: {ids:?}"
    );
    assert_eq!(app.count("event").await, 1);
}

#[tokio::test]
async fn a_webhook_that_fails_verification_is_rejected_and_not_stored() {
    let app = TestApp::spawn().await;
    let body = one_event("wh_forged", "loan.active", "ln_3").to_string();

    let wrong = app
        .send_webhook("", Some("not-the-token"), body.clone())
        .await;
    expect_problem(wrong, StatusCode::UNAUTHORIZED, "webhook_invalid_signature").await;
    let missing = app.send_webhook("", None, body).await;
    expect_problem(
        missing,
        StatusCode::UNAUTHORIZED,
        "webhook_missing_credential",
    )
    .await;

    assert_eq!(app.count("event").await, 0);
    assert_eq!(app.count("quarantine").await, 0);
}

#[tokio::test]
async fn an_authentic_but_unparseable_webhook_is_quarantined_with_its_reason() {
    let app = TestApp::spawn().await;

    let response = app
        .send_webhook("/some/path", Some(TOKEN), "{\"not\": \"an envelope\"}")
        .await;

    let receipt = expect_json(response, StatusCode::OK).await;
    assert_eq!(receipt["status"], "quarantined");
    assert!(
        receipt["quarantine_id"]
            .as_str()
            .unwrap()
            .starts_with("qua_")
    );
    let (path, reason, raw, headers): (String, String, Vec<u8>, serde_json::Value) =
        sqlx::query_as("select path, reason, raw, headers from quarantine")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(path, "/some/path");
    assert!(reason.contains("not a test envelope"), "{reason}");
    assert_eq!(raw, b"{\"not\": \"an envelope\"}");
    assert!(
        headers.get("x-test-token").is_none(),
        "credentials must not be kept: {headers}"
    );
    assert_eq!(app.count("event").await, 0);
}

#[tokio::test]
async fn an_unknown_event_type_is_stored_as_unrecognized_never_dropped() {
    let app = TestApp::spawn().await;

    let body = one_event("wh_new", "loan.teleported", "ln_4").to_string();
    let receipt = expect_json(
        app.send_webhook("", Some(TOKEN), body).await,
        StatusCode::OK,
    )
    .await;

    let id = receipt["events"][0]["id"].as_str().unwrap();
    let event = expect_json(
        app.get(&format!("/v1/events/{id}"), Some(&app.admin_key))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(event["type"], "testprov.unrecognized");
    assert_eq!(event["provider_event_type"], "loan.teleported");
}

#[tokio::test]
async fn several_events_in_one_webhook_are_stored_together() {
    let app = TestApp::spawn().await;
    let body = json!({"events": [
        {"id": "wh_a", "type": "loan.signed", "resource": "ln_5"},
        {"id": "wh_b", "type": "loan.active", "resource": "ln_5"},
    ]});

    let receipt = expect_json(
        app.send_webhook("", Some(TOKEN), body.to_string()).await,
        StatusCode::OK,
    )
    .await;

    assert_eq!(receipt["events"].as_array().unwrap().len(), 2);
    assert_eq!(app.count("event").await, 2);
}

#[tokio::test]
async fn a_webhook_for_an_unregistered_provider_is_404() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .post(format!("{}/webhooks/nobody", app.address))
        .body("{}")
        .send()
        .await
        .unwrap();

    expect_problem(response, StatusCode::NOT_FOUND, "unknown_provider").await;
}

#[tokio::test]
async fn a_webhook_over_the_body_limit_is_413_and_not_stored() {
    let app = TestApp::spawn_with(|settings| settings.server.webhook_body_limit_bytes = 2048).await;
    let padding = "x".repeat(4096);
    let body = json!({"events": [{"id": "wh_big", "type": "loan.active", "resource": padding}]});

    let response = app.send_webhook("", Some(TOKEN), body.to_string()).await;

    expect_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert_eq!(app.count("event").await, 0);
}

#[tokio::test]
async fn with_postgres_unavailable_a_webhook_gets_503_so_the_provider_retries() {
    let app = TestApp::spawn().await;
    let body = one_event("wh_down", "loan.active", "ln_6").to_string();
    app.db.take_offline().await;

    let response = app.send_webhook("", Some(TOKEN), body.clone()).await;
    expect_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
    )
    .await;

    // The provider's retry after recovery is stored once.
    app.db.bring_online().await;
    let receipt = expect_json(
        app.send_webhook("", Some(TOKEN), body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(receipt["events"][0]["duplicate"], false);
    assert_eq!(app.count("event").await, 1);
}
