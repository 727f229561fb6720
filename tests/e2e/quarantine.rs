//! `/v1/quarantine`: authentic webhooks that could not become events are listed with their reason
//! and replayed once the code can read them.

use e2e::app::{TestApp, expect_json, expect_problem};
use e2e::source::{TOKEN, understand};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_quarantined_webhook_is_listed_with_its_reason_and_replayed_once_the_code_can_read_it() {
    let app = TestApp::spawn().await;
    let marker = format!("q-{}", app.db.name());
    let body = json!({"events": [{"id": "q-1", "type": "loan.active", "resource": "ln_q",
                                  "understood_after": marker}]});
    let receipt = expect_json(
        app.send_webhook("", Some(TOKEN), body.to_string()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(receipt["status"], "quarantined");
    let id = receipt["quarantine_id"].as_str().unwrap().to_owned();

    let waiting = expect_json(
        app.get("/v1/quarantine", Some(&app.admin_key)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(waiting["data"][0]["id"], id.as_str());
    assert_eq!(waiting["data"][0]["status"], "quarantined");
    assert!(
        waiting["data"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not understood yet"),
        "{waiting}"
    );
    assert_eq!(waiting["data"][0]["raw"], body.to_string().as_str());

    let path = format!("/v1/quarantine/{id}/replay");
    let no_body = json!({});
    let replay =
        |key: &'static str| app.post_json(&path, Some(&app.admin_key), Some(key), &no_body);
    expect_problem(
        replay("q-replay-1").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "quarantine_unreadable",
    )
    .await;
    assert_eq!(app.count("event").await, 0);

    understand(&marker);
    let replayed = expect_json(replay("q-replay-2").await, StatusCode::OK).await;
    assert_eq!(replayed["status"], "replayed");
    let event_id = replayed["event_ids"][0].as_str().unwrap().to_owned();
    let event = expect_json(
        app.get(&format!("/v1/events/{event_id}"), Some(&app.admin_key))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(event["type"], "loan.active");
    assert_eq!(event["dedup_key"], "q-1");

    let still_waiting = expect_json(
        app.get("/v1/quarantine", Some(&app.admin_key)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(still_waiting["data"].as_array().unwrap().len(), 0);
    let all = expect_json(
        app.get("/v1/quarantine?status=all", Some(&app.admin_key))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(all["data"][0]["event_ids"][0], event_id.as_str());
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("paygate_webhooks_quarantined_total"));
    assert!(metrics.contains("paygate_quarantine_replayed_total"));
}

#[tokio::test]
async fn a_key_without_pii_sees_a_quarantined_webhook_without_its_body() {
    let app = TestApp::spawn().await;
    let body = json!({"events": [{"id": "q-2", "type": "loan.active", "resource": "ln_q",
                                  "understood_after": "never"}]});
    let receipt = expect_json(
        app.send_webhook("", Some(TOKEN), body.to_string()).await,
        StatusCode::OK,
    )
    .await;
    let id = receipt["quarantine_id"].as_str().unwrap();
    let reader = app.key_with(&[gateway::keys::Scope::EventsRead]).await;

    let seen = expect_json(
        app.get(&format!("/v1/quarantine/{id}"), Some(&reader))
            .await,
        StatusCode::OK,
    )
    .await;

    assert_eq!(seen["id"], id);
    assert!(seen.get("raw").is_none(), "{seen}");
    let refused = app
        .post_json(
            &format!("/v1/quarantine/{id}/replay"),
            Some(&reader),
            Some("q-reader"),
            &json!({}),
        )
        .await;
    expect_problem(refused, StatusCode::FORBIDDEN, "insufficient_scope").await;
}
