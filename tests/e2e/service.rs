//! The service skeleton: request timeouts, graceful shutdown, compression.

use std::time::Duration;

use e2e::app::{TestApp, expect_json, expect_problem, one_event};
use e2e::source::{PROVIDER, TOKEN, is_in_flight};
use reqwest::StatusCode;

fn slow_webhook(app: &TestApp, id: &str, delay_ms: u64) -> reqwest::RequestBuilder {
    let marker = format!("{id}-{}", app.db.name());
    app.client
        .post(format!("{}/webhooks/{PROVIDER}", app.address))
        .header("content-type", "application/json")
        .header("x-test-token", TOKEN)
        .header("x-test-delay-ms", delay_ms.to_string())
        .header("x-test-marker", marker)
        .body(one_event(id, "loan.active", "ln").to_string())
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_gets_408_and_stores_nothing() {
    let app = TestApp::spawn_with(|settings| settings.server.request_timeout_secs = 1).await;

    let response = slow_webhook(&app, "slow-1", 3_000).send().await.unwrap();

    expect_problem(response, StatusCode::REQUEST_TIMEOUT, "request_timeout").await;
    assert_eq!(app.count("event").await, 0);
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_and_refuses_new_connections() {
    let app = TestApp::spawn().await;
    let address = app.address.clone();
    let in_flight = tokio::spawn(slow_webhook(&app, "drain-1", 1_500).send());
    // Stop only once the request is being processed.
    let marker = format!("drain-1-{}", app.db.name());
    let started = e2e::eventually(Duration::from_secs(10), || async {
        is_in_flight(&marker).then_some(())
    })
    .await;
    assert!(
        started.is_some(),
        "the slow request never reached the gateway"
    );
    let pool = app.db.pool.clone();

    let stopped = tokio::spawn(app.stop_returning_db());
    let response = in_flight.await.unwrap().unwrap();

    let receipt = expect_json(response, StatusCode::OK).await;
    assert_eq!(receipt["status"], "stored");
    let db = stopped.await.unwrap();
    let stored: i64 = sqlx::query_scalar("select count(*) from event")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);
    let after = reqwest::Client::new()
        .get(format!("{address}/healthz"))
        .send()
        .await;
    assert!(after.is_err(), "the listener must be closed after shutdown");
    drop(db);
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_accepts_gzip() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-encoding"], "gzip");
}
