//! The JetStream sink driven from the outbox: every stored event is published once per event id
//! to `paygate.events.<type>`, and waits in the outbox while NATS is down.

use std::time::Duration;

use async_nats::jetstream;
use e2e::app::{TestApp, expect_json, one_event};
use e2e::source::TOKEN;
use reqwest::StatusCode;

const NATS_URL: &str = "nats://127.0.0.1:4222";

async fn delivery_status(app: &TestApp) -> Option<String> {
    sqlx::query_scalar("select status from delivery where sink = 'jetstream'")
        .fetch_optional(&app.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn stored_events_are_published_to_jetstream_once_per_event_id() {
    let client = async_nats::connect(NATS_URL).await.unwrap_or_else(|error| {
        panic!("this test needs NATS with JetStream at {NATS_URL}: {error}")
    });
    let admin = jetstream::new(client);
    // Only one stream may capture paygate.events.>: wait (bounded) for other runs to finish.
    let free = e2e::eventually(Duration::from_secs(60), || async {
        admin
            .stream_by_subject("paygate.events.any")
            .await
            .is_err()
            .then_some(())
    })
    .await;
    assert!(
        free.is_some(),
        "another stream captures paygate.events.> on {NATS_URL}"
    );
    let stream = format!("PAYGATE_TEST_{}", uuid::Uuid::now_v7().simple());
    let app = TestApp::spawn_with({
        let stream = stream.clone();
        move |settings| {
            settings.jetstream.url = NATS_URL.into();
            settings.jetstream.stream = stream;
        }
    })
    .await;

    let body = one_event("js-1", "loan.active", "ln_js").to_string();
    let receipt = expect_json(
        app.send_webhook("", Some(TOKEN), body).await,
        StatusCode::OK,
    )
    .await;
    let event_id = receipt["events"][0]["id"].as_str().unwrap().to_owned();
    let published = e2e::eventually(Duration::from_secs(20), || async {
        (delivery_status(&app).await.as_deref() == Some("succeeded")).then_some(())
    })
    .await;

    let outcome = async {
        assert!(published.is_some(), "the event was not published");
        // A redelivery of the same event (say, after a crash before recording) is deduplicated.
        sqlx::query("update delivery set status = 'pending', next_attempt_at = now() where sink = 'jetstream'")
            .execute(&app.db.pool)
            .await
            .unwrap();
        let republished = e2e::eventually(Duration::from_secs(20), || async {
            (delivery_status(&app).await.as_deref() == Some("succeeded")).then_some(())
        })
        .await;
        assert!(republished.is_some());
        let mut handle = admin.get_stream(&stream).await.unwrap();
        let info = handle.info().await.unwrap().clone();
        assert_eq!(info.state.messages, 1);
        let message = handle.get_raw_message(1).await.unwrap();
        assert_eq!(message.subject.as_str(), "paygate.events.loan.active");
        let id = message
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.as_str().to_owned());
        assert_eq!(id.as_deref(), Some(event_id.as_str()));
        let payload: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(payload["id"], event_id.as_str());
    };
    let result = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(outcome)).await;
    app.stop().await;
    let _ = admin.delete_stream(&stream).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test]
async fn while_nats_is_down_events_wait_in_the_outbox() {
    let app = TestApp::spawn_with(|settings| {
        // Nothing listens on port 1.
        settings.jetstream.url = "nats://127.0.0.1:1".into();
        settings.jetstream.stream = "PAYGATE_UNREACHABLE".into();
    })
    .await;

    let body = one_event("js-down", "loan.active", "ln").to_string();
    expect_json(
        app.send_webhook("", Some(TOKEN), body).await,
        StatusCode::OK,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert_eq!(delivery_status(&app).await.as_deref(), Some("pending"));
}
