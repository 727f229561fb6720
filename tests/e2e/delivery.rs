//! Re-publishing events to partner apps: subscriptions, signed deliveries, retries, dead letters,
//! manual retry, replay, crash safety, concurrency, ordering, rate limits, SSRF.

use std::collections::HashSet;
use std::time::Duration;

use e2e::app::{TestApp, expect_json, expect_problem};
use e2e::receiver::{Receiver, Script};
use e2e::source::TOKEN;
use gateway::delivery::dispatcher::Dispatcher;
use gateway::outbox::handoff::Handoff;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(20);

pub(crate) async fn subscribe(app: &TestApp, body: Value) -> Value {
    let key = format!("sub-{}", uuid::Uuid::new_v4());
    let response = app
        .post_json("/v1/subscriptions", Some(&app.admin_key), Some(&key), &body)
        .await;
    expect_json(response, StatusCode::CREATED).await
}

pub(crate) async fn ingest(app: &TestApp, id: &str, event_type: &str, resource: &str) -> String {
    let body =
        json!({"events": [{"id": id, "type": event_type, "resource": resource}]}).to_string();
    let receipt = expect_json(
        app.send_webhook("", Some(TOKEN), body).await,
        StatusCode::OK,
    )
    .await;
    receipt["events"][0]["id"].as_str().unwrap().to_owned()
}

async fn deliveries_of(app: &TestApp, subscription: &str, query: &str) -> Value {
    let path = format!("/v1/subscriptions/{subscription}/deliveries{query}");
    expect_json(app.get(&path, Some(&app.admin_key)).await, StatusCode::OK).await
}

/// Waits (bounded) until the subscription is disabled; returns it.
async fn wait_until_disabled(app: &TestApp, id: &str) -> Value {
    e2e::eventually(WAIT, || async {
        let path = format!("/v1/subscriptions/{id}");
        let fetched = expect_json(app.get(&path, Some(&app.admin_key)).await, StatusCode::OK).await;
        (fetched["status"] == "disabled").then_some(fetched)
    })
    .await
    .expect("the subscription was not disabled")
}

/// Workers poll once a minute: only the wake-up from the inbound commit can explain deliveries to
/// a subscription (ordered or not) within seconds of each webhook.
async fn deliveries_leave_within_seconds_of_their_commit(ordered: bool) {
    let app = TestApp::spawn_with(|settings| settings.delivery.poll_interval_ms = 60_000).await;
    let receiver = Receiver::start().await;
    let subscription = subscribe(
        &app,
        json!({"url": receiver.url, "event_types": ["*"], "ordered": ordered}),
    )
    .await;
    receiver.set_secrets(&[subscription["secret"].as_str().unwrap()]);
    let soon = Duration::from_secs(5);

    // Every worker has polled (and found nothing) by then, and now waits.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first = ingest(&app, "w1", "loan.active", "ln_w1").await;
    let received = receiver.wait_for_successes(1, soon).await;
    assert_eq!(received[0].id, first);

    let second = ingest(&app, "w2", "loan.active", "ln_w2").await;
    let received = receiver.wait_for_successes(2, soon).await;
    assert_eq!(received[1].id, second);
}

#[tokio::test]
async fn a_delivery_handed_over_leaves_as_soon_as_its_event_commits_not_at_the_next_poll() {
    deliveries_leave_within_seconds_of_their_commit(false).await;
}

#[tokio::test]
async fn a_pending_delivery_is_claimed_as_soon_as_its_event_commits_not_at_the_next_poll() {
    // Ordered subscriptions' deliveries are enqueued pending and claimed in order.
    deliveries_leave_within_seconds_of_their_commit(true).await;
}

pub(crate) fn short_schedule(settings: &mut gateway::config::Settings, schedule: &[u64]) {
    settings.delivery.retry_schedule_secs = schedule.to_vec();
    settings.delivery.retry_jitter_percent = 0;
}

#[tokio::test]
async fn a_subscription_gets_each_matching_event_signed_with_its_secret() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let subscription = subscribe(
        &app,
        json!({"url": receiver.url, "event_types": ["loan.*"]}),
    )
    .await;
    let secret = subscription["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    receiver.set_secrets(&[secret]);

    let loan = ingest(&app, "e1", "loan.active", "ln_1").await;
    ingest(&app, "e2", "pix.received", "E1").await;

    let received = receiver.wait_for_successes(1, WAIT).await;
    assert_eq!(received[0].id, loan, "webhook-id is the event id");
    assert_eq!(received[0].verified_with, vec![0]);
    let event = expect_json(
        app.get(&format!("/v1/events/{loan}"), Some(&app.admin_key))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(received[0].body, event, "the payload is the v1 event");
    // The non-matching event is not delivered.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1);
    let listed = deliveries_of(
        &app,
        subscription["id"].as_str().unwrap(),
        "?status=succeeded",
    )
    .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    for name in [
        "paygate_deliveries_total",
        "paygate_delivery_attempt_duration_seconds",
        "paygate_subscription_failing_seconds",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
}

#[tokio::test]
async fn the_secret_is_shown_only_at_creation_and_is_unreadable_in_the_database() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let created = subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap();

    let fetched = expect_json(
        app.get(&format!("/v1/subscriptions/{id}"), Some(&app.admin_key))
            .await,
        StatusCode::OK,
    )
    .await;
    let listed = expect_json(
        app.get("/v1/subscriptions", Some(&app.admin_key)).await,
        StatusCode::OK,
    )
    .await;
    let stored: String = sqlx::query_scalar("select secret from subscription")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();

    assert!(fetched.get("secret").is_none());
    assert!(!listed.to_string().contains(&secret));
    assert!(stored.starts_with("enc:v1:"), "{stored}");
    assert!(!stored.contains(&secret[6..]));
}

#[tokio::test]
async fn during_a_secret_rotation_deliveries_verify_with_either_secret() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let created = subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    let old = created["secret"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap();

    let rotated = app
        .post_json(
            &format!("/v1/subscriptions/{id}/secret/rotate"),
            Some(&app.admin_key),
            Some("rotate-1"),
            &json!({"grace_seconds": 3600}),
        )
        .await;
    let rotated = expect_json(rotated, StatusCode::OK).await;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    receiver.set_secrets(&[&old, &new]);
    ingest(&app, "rot-1", "loan.active", "ln").await;

    let received = receiver.wait_for_successes(1, WAIT).await;
    assert_eq!(
        received[0].verified_with,
        vec![0, 1],
        "signed with both secrets during the grace period"
    );

    // After the grace period only the new secret signs.
    sqlx::query("update subscription set previous_secret_expires_at = now() - interval '1 second'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    ingest(&app, "rot-2", "loan.active", "ln").await;
    let received = receiver.wait_for_successes(2, WAIT).await;
    assert_eq!(received[1].verified_with, vec![1]);
}

#[tokio::test]
async fn a_failing_endpoint_walks_the_schedule_to_dead_letter_then_a_manual_retry_delivers() {
    let app = TestApp::spawn_with(|settings| short_schedule(settings, &[0, 1, 1])).await;
    let receiver = Receiver::start().await;
    receiver.set_script(Script::Always(500));
    let created = subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    let subscription = created["id"].as_str().unwrap().to_owned();
    ingest(&app, "dead-1", "loan.active", "ln").await;

    let dead = e2e::eventually(WAIT, || async {
        let listed = deliveries_of(&app, &subscription, "?status=dead").await;
        listed["data"].as_array().unwrap().first().cloned()
    })
    .await
    .expect("the delivery was not dead-lettered");
    assert_eq!(dead["attempts"], 3);
    assert_eq!(dead["last_response_status"], 500);
    let delivery_id = dead["id"].as_str().unwrap();
    let detail = expect_json(
        app.get(
            &format!("/v1/deliveries/{delivery_id}"),
            Some(&app.admin_key),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let attempts = detail["attempt_log"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    assert!(
        attempts
            .iter()
            .all(|a| a["response_status"] == 500 && a["latency_ms"].is_number())
    );
    assert_eq!(attempts[0]["response_body"], "ok");
    // Spaced by the schedule: at least ~1 s between consecutive attempts.
    assert_eq!(receiver.received().len(), 3);

    receiver.set_script(Script::Always(200));
    let retried = app
        .post_json(
            &format!("/v1/deliveries/{delivery_id}/retry"),
            Some(&app.admin_key),
            Some("retry-1"),
            &json!({}),
        )
        .await;
    expect_json(retried, StatusCode::ACCEPTED).await;

    receiver.wait_for_successes(1, WAIT).await;
    let succeeded = e2e::eventually(WAIT, || async {
        let detail = expect_json(
            app.get(
                &format!("/v1/deliveries/{delivery_id}"),
                Some(&app.admin_key),
            )
            .await,
            StatusCode::OK,
        )
        .await;
        (detail["status"] == "succeeded").then_some(detail)
    })
    .await;
    assert!(succeeded.is_some());
    let again = app
        .post_json(
            &format!("/v1/deliveries/{delivery_id}/retry"),
            Some(&app.admin_key),
            Some("retry-2"),
            &json!({}),
        )
        .await;
    expect_problem(again, StatusCode::CONFLICT, "delivery_not_retryable").await;
}

/// How long after its first attempt a delivery was retried, when the partner first answers as
/// `script` says and the retry schedule alone would retry at once.
async fn retried_after(script: Script) -> Duration {
    let app = TestApp::spawn_with(|settings| short_schedule(settings, &[0, 0, 0])).await;
    let receiver = Receiver::start().await;
    receiver.set_script(script);
    subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    ingest(&app, "ra-1", "loan.active", "ln").await;

    let received = receiver.wait_for_successes(1, WAIT).await;

    assert_eq!(received.len(), 2);
    received[1].at - received[0].at
}

#[tokio::test]
async fn a_retry_after_from_the_partner_is_honoured() {
    let waited = retried_after(Script::RetryAfterOnce { secs: 2 }).await;
    assert!(
        waited >= Duration::from_millis(1900),
        "retried after {waited:?}"
    );
}

#[tokio::test]
async fn a_retry_after_given_as_an_http_date_is_honoured() {
    // Three seconds ahead at second resolution: at least two seconds of waiting.
    let waited = retried_after(Script::RetryAfterDateOnce { secs: 3 }).await;
    assert!(
        waited >= Duration::from_millis(1900),
        "retried after {waited:?}"
    );
}

#[tokio::test]
async fn a_410_disables_the_subscription_and_emits_subscription_disabled() {
    let app = TestApp::spawn().await;
    let gone = Receiver::start().await;
    gone.set_script(Script::Always(410));
    let watcher = Receiver::start().await;
    let created = subscribe(&app, json!({"url": gone.url, "event_types": ["loan.*"]})).await;
    let ops = subscribe(
        &app,
        json!({"url": watcher.url, "event_types": ["subscription.*"]}),
    )
    .await;
    watcher.set_secrets(&[ops["secret"].as_str().unwrap()]);
    ingest(&app, "gone-1", "loan.active", "ln").await;

    let id = created["id"].as_str().unwrap();
    let disabled = wait_until_disabled(&app, id).await;
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410")
    );
    let notice = watcher.wait_for_successes(1, WAIT).await;
    assert_eq!(notice[0].body["type"], "subscription.disabled");
    assert_eq!(notice[0].body["data"]["subscription_id"], id);
    let dead = deliveries_of(&app, id, "?status=dead").await;
    assert_eq!(dead["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_endpoint_failing_longer_than_the_limit_is_disabled() {
    let app = TestApp::spawn_with(|settings| {
        short_schedule(settings, &[0, 1, 1, 1, 1]);
        settings.delivery.disable_after_failing_secs = 1;
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.set_script(Script::Always(503));
    let created = subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    ingest(&app, "streak-1", "loan.active", "ln").await;

    let id = created["id"].as_str().unwrap();
    let disabled = wait_until_disabled(&app, id).await;
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("failed continuously")
    );
    let events = app.list_events("?type=subscription.disabled").await;
    assert_eq!(events["data"].as_array().unwrap().len(), 1);
}

/// Starts a replay of everything since 2020 to `subscription` and waits for it to complete.
pub(crate) async fn replay_everything(app: &TestApp, subscription: &str) -> Value {
    let replay = app
        .post_json(
            &format!("/v1/subscriptions/{subscription}/replay"),
            Some(&app.admin_key),
            Some(&format!("replay-all-{subscription}")),
            &json!({"since": "2020-01-01T00:00:00Z"}),
        )
        .await;
    let replay = expect_json(replay, StatusCode::ACCEPTED).await;
    let replay_id = replay["id"].as_str().unwrap().to_owned();
    e2e::eventually(WAIT, || async {
        let status = expect_json(
            app.get(&format!("/v1/replays/{replay_id}"), Some(&app.admin_key))
                .await,
            StatusCode::OK,
        )
        .await;
        (status["status"] == "completed").then_some(status)
    })
    .await
    .expect("the replay did not complete")
}

#[tokio::test]
async fn a_replay_applies_the_subscriptions_provider_and_resource_kind_filters_as_live_matching_does()
 {
    let app = TestApp::spawn().await;
    ingest(&app, "f1", "loan.active", "ln_1").await;
    let pix =
        json!({"events": [{"id": "f2", "type": "pix.received", "resource": "E1", "kind": "pix"}]});
    expect_json(
        app.send_webhook("", Some(TOKEN), pix.to_string()).await,
        StatusCode::OK,
    )
    .await;
    let receiver = Receiver::start().await;
    let loans = subscribe(
        &app,
        json!({"url": receiver.url, "event_types": ["*"], "resource_kind": "loan"}),
    )
    .await;
    let dinie = subscribe(
        &app,
        json!({"url": receiver.url, "event_types": ["*"], "provider": "dinie"}),
    )
    .await;

    let loans = replay_everything(&app, loans["id"].as_str().unwrap()).await;
    let dinie = replay_everything(&app, dinie["id"].as_str().unwrap()).await;

    assert_eq!(loans["enqueued"], 1, "only the loan event: {loans}");
    assert_eq!(dinie["enqueued"], 0, "no event is Dinie's: {dinie}");
}

#[tokio::test]
async fn a_replay_redelivers_a_window_of_events_of_the_chosen_types() {
    let app = TestApp::spawn().await;
    for (id, event_type) in [
        ("r1", "loan.active"),
        ("r2", "loan.signed"),
        ("r3", "pix.received"),
    ] {
        ingest(&app, id, event_type, "ln").await;
    }
    let receiver = Receiver::start().await;
    let created = subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    let id = created["id"].as_str().unwrap();

    let replay = app
        .post_json(
            &format!("/v1/subscriptions/{id}/replay"),
            Some(&app.admin_key),
            Some("replay-1"),
            &json!({"since": "2020-01-01T00:00:00Z", "event_types": ["loan.*"]}),
        )
        .await;
    let replay = expect_json(replay, StatusCode::ACCEPTED).await;

    let received = receiver.wait_for_successes(2, WAIT).await;
    let types: HashSet<String> = received
        .iter()
        .map(|r| r.body["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        HashSet::from(["loan.active".to_owned(), "loan.signed".to_owned()])
    );
    let replay_id = replay["id"].as_str().unwrap();
    let done = e2e::eventually(WAIT, || async {
        let status = expect_json(
            app.get(&format!("/v1/replays/{replay_id}"), Some(&app.admin_key))
                .await,
            StatusCode::OK,
        )
        .await;
        (status["status"] == "completed").then_some(status)
    })
    .await
    .expect("the replay did not complete");
    assert_eq!(done["enqueued"], 2);
}

#[tokio::test]
async fn a_replay_resumes_from_its_cursor_after_a_restart() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    for n in 0..(gateway::delivery::replay::BATCH + 20) {
        sqlx::query(
            "insert into event (event_id, provider, event_type, provider_event_type, dedup_key, resource_kind,
                                resource_id, occurred_at, data, raw)
             values ($1, 'testprov', 'loan.active', 'loan.active', $2, 'loan', 'ln', now(), '{}', '')",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(format!("bulk-{n}"))
        .execute(&app.db.pool)
        .await
        .unwrap();
    }
    let receiver = Receiver::start().await;
    let created = subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    let id = created["id"].as_str().unwrap();
    let replay = app
        .post_json(
            &format!("/v1/subscriptions/{id}/replay"),
            Some(&app.admin_key),
            Some("replay-2"),
            &json!({"since": "2020-01-01T00:00:00Z"}),
        )
        .await;
    let replay = expect_json(replay, StatusCode::ACCEPTED).await;

    // One step, then the "process" stops; a later step resumes from the cursor.
    assert!(gateway::delivery::replay::step(&app.db.pool).await.unwrap());
    let replay_id = replay["id"].as_str().unwrap();
    let partial = expect_json(
        app.get(&format!("/v1/replays/{replay_id}"), Some(&app.admin_key))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(partial["status"], "running");
    assert_eq!(partial["enqueued"], gateway::delivery::replay::BATCH);
    assert!(gateway::delivery::replay::step(&app.db.pool).await.unwrap());

    let done = expect_json(
        app.get(&format!("/v1/replays/{replay_id}"), Some(&app.admin_key))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["enqueued"], gateway::delivery::replay::BATCH + 20);
    let distinct: i64 = sqlx::query_scalar("select count(distinct event_id) from delivery")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        distinct,
        gateway::delivery::replay::BATCH + 20,
        "each event enqueued once"
    );
}

fn dispatcher(app: &TestApp, claim_timeout_secs: u64) -> Dispatcher {
    let mut settings = app.settings.clone();
    settings.delivery.claim_timeout_secs = claim_timeout_secs;
    let keyring =
        std::sync::Arc::new(gateway::crypto::Keyring::from_settings(&settings.encryption).unwrap());
    Dispatcher::new(app.db.pool.clone(), keyring, &settings).unwrap()
}

#[tokio::test]
async fn a_dispatcher_killed_after_the_post_before_recording_does_not_lose_the_delivery() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let receiver = Receiver::start().await;
    // The receiver holds the request: the first dispatcher is killed while waiting for the answer.
    receiver.set_delay(Duration::from_millis(500));
    let created = subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    receiver.set_secrets(&[created["secret"].as_str().unwrap()]);
    let event = ingest(&app, "crash-1", "loan.active", "ln").await;

    let first = dispatcher(&app, 1);
    let running = tokio::spawn(async move { first.run_once().await });
    let reached = e2e::eventually(WAIT, || async {
        (!receiver.arrivals().is_empty()).then_some(())
    })
    .await;
    assert!(reached.is_some(), "the first dispatcher never posted");
    // Killed after the POST went out, before the answer could be recorded.
    running.abort();
    let _ = running.await;
    let recorded: i64 = sqlx::query_scalar("select count(*) from delivery_attempt")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(recorded, 0);

    // Another dispatcher takes the delivery over once the dead one's claim expires.
    let second = dispatcher(&app, 1);
    let shutdown = CancellationToken::new();
    let workers = second.spawn(shutdown.clone());
    receiver.wait_for_successes(1, WAIT).await;
    shutdown.cancel();
    let _ = workers.await;

    assert_eq!(
        receiver.arrivals(),
        vec![event.clone(), event.clone()],
        "the same event, redelivered"
    );
    let status: String = sqlx::query_scalar("select status from delivery")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "succeeded");
}

#[tokio::test]
async fn two_dispatchers_deliver_everything_and_never_one_delivery_twice_at_once() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let receiver = Receiver::start().await;
    receiver.set_delay(Duration::from_millis(20));
    subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    for n in 0..40 {
        ingest(&app, &format!("two-{n}"), "loan.active", &format!("ln_{n}")).await;
    }

    let shutdown = CancellationToken::new();
    let one = dispatcher(&app, 30).spawn(shutdown.clone());
    let two = dispatcher(&app, 30).spawn(shutdown.clone());
    let received = receiver.wait_for_successes(40, WAIT).await;
    shutdown.cancel();
    let _ = (one.await, two.await);

    let ids: HashSet<&str> = received.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), 40);
    assert_eq!(received.len(), 40, "no delivery was sent twice");
    assert_eq!(receiver.max_concurrent_same_id(), 1);
}

#[tokio::test]
async fn ordered_delivery_holds_a_key_behind_its_retrying_head_while_other_keys_flow() {
    let app = TestApp::spawn_with(|settings| short_schedule(settings, &[0, 1, 1, 1])).await;
    let receiver = Receiver::start().await;
    receiver.set_script(Script::FailResource {
        resource: "ln_slow".into(),
        n: 2,
    });
    subscribe(
        &app,
        json!({"url": receiver.url, "event_types": ["*"], "ordered": true}),
    )
    .await;
    let mut slow = Vec::new();
    let mut fast = Vec::new();
    for n in 0..3 {
        slow.push(ingest(&app, &format!("slow-{n}"), "loan.active", "ln_slow").await);
        fast.push(ingest(&app, &format!("fast-{n}"), "loan.active", "ln_fast").await);
    }

    let received = receiver.wait_for_successes(6, WAIT).await;

    let succeeded: Vec<&str> = received
        .iter()
        .filter(|r| r.answered == 200)
        .map(|r| r.id.as_str())
        .collect();
    let order_of = |ids: &[String]| -> Vec<usize> {
        ids.iter()
            .map(|id| succeeded.iter().position(|s| s == id).unwrap())
            .collect()
    };
    let slow_positions = order_of(&slow);
    let fast_positions = order_of(&fast);
    assert!(
        slow_positions.windows(2).all(|w| w[0] < w[1]),
        "slow key out of order: {succeeded:?}"
    );
    assert!(
        fast_positions.windows(2).all(|w| w[0] < w[1]),
        "fast key out of order: {succeeded:?}"
    );
    // The fast key was not blocked by the slow key's retrying head.
    assert!(
        fast_positions[2] < slow_positions[0],
        "fast key waited for the slow one: {succeeded:?}"
    );
    // Nothing of the slow key was attempted before its head succeeded.
    let first_slow_success = received
        .iter()
        .position(|r| r.id == slow[0] && r.answered == 200)
        .unwrap();
    assert!(
        received[..first_slow_success]
            .iter()
            .all(|r| r.id == slow[0] || fast.contains(&r.id)),
        "a later event of the slow key went before its head"
    );
}

#[tokio::test]
async fn the_rate_limit_holds_within_ten_percent_under_a_burst() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let receiver = Receiver::start().await;
    subscribe(
        &app,
        json!({"url": receiver.url, "event_types": ["*"], "rate_limit_per_second": 10}),
    )
    .await;
    for n in 0..21 {
        ingest(
            &app,
            &format!("burst-{n}"),
            "loan.active",
            &format!("ln_{n}"),
        )
        .await;
    }

    let shutdown = CancellationToken::new();
    let workers = dispatcher(&app, 30).spawn(shutdown.clone());
    let received = receiver.wait_for_successes(21, WAIT).await;
    shutdown.cancel();
    let _ = workers.await;

    // 21 deliveries at 10/s: 20 intervals of 100 ms after the first (a slot per 100 ms leaves room
    // for a loaded CI machine to keep up, so the upper bound measures the limiter, not the load).
    let span = received.last().unwrap().at - received.first().unwrap().at;
    assert!(span >= Duration::from_millis(1800), "too fast: {span:?}");
    assert!(span <= Duration::from_millis(2200), "too slow: {span:?}");
}

#[tokio::test]
async fn deliveries_whose_slot_is_beyond_half_the_claim_wait_pending_and_the_rate_still_holds() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let receiver = Receiver::start().await;
    subscribe(
        &app,
        json!({"url": receiver.url, "event_types": ["*"], "rate_limit_per_second": 2}),
    )
    .await;
    for n in 0..8 {
        ingest(
            &app,
            &format!("horizon-{n}"),
            "loan.active",
            &format!("ln_{n}"),
        )
        .await;
    }

    // Claims last 2 s: a batch may hold slots up to 1 s ahead (0, 0.5 and 1 s at 2/s); the other
    // five go back to pending, due when the bucket frees up, and are claimed again then.
    let shutdown = CancellationToken::new();
    let workers = dispatcher(&app, 2).spawn(shutdown.clone());
    let received = receiver.wait_for_successes(8, WAIT).await;
    shutdown.cancel();
    let _ = workers.await;

    // 8 deliveries at 2/s: 7 intervals of 500 ms after the first, none sent early.
    let span = received.last().unwrap().at - received.first().unwrap().at;
    assert!(span >= Duration::from_millis(3_300), "too fast: {span:?}");
    assert_eq!(received.len(), 8, "each delivered once");
}

#[tokio::test]
async fn every_dead_letter_of_a_subscription_is_retried_in_one_call_and_then_delivered() {
    let app = TestApp::spawn_with(|settings| short_schedule(settings, &[0, 1, 1])).await;
    let receiver = Receiver::start().await;
    receiver.set_script(Script::FailFirst { n: 3, status: 500 });
    let created = subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    ingest(&app, "bulk-dead-1", "loan.active", "ln_b1").await;
    ingest(&app, "bulk-dead-2", "loan.active", "ln_b2").await;
    e2e::eventually(WAIT, || async {
        let dead = deliveries_of(&app, &id, "?status=dead").await;
        (dead["data"].as_array().unwrap().len() == 2).then_some(())
    })
    .await
    .expect("both deliveries were dead-lettered");

    let path = format!("/v1/subscriptions/{id}/deliveries/retry-dead");
    let reader = app
        .key_with(&[gateway::keys::Scope::SubscriptionsRead])
        .await;
    let refused = app
        .post_json(&path, Some(&reader), Some("bulk-1"), &json!({}))
        .await;
    expect_problem(refused, StatusCode::FORBIDDEN, "insufficient_scope").await;
    let unknown = app
        .post_json(
            "/v1/subscriptions/sub_00000000000000000000000000000000/deliveries/retry-dead",
            Some(&app.admin_key),
            Some("bulk-2"),
            &json!({}),
        )
        .await;
    expect_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
    let retried = app
        .post_json(&path, Some(&app.admin_key), Some("bulk-3"), &json!({}))
        .await;
    let retried = expect_json(retried, StatusCode::ACCEPTED).await;
    assert_eq!(retried["retried"], 2);
    assert_eq!(retried["subscription_id"], id.as_str());

    // The fourth attempt of each is accepted.
    let received = receiver.wait_for_successes(2, WAIT).await;
    let accepted = received.iter().filter(|r| r.answered == 200).count();
    assert_eq!(accepted, 2, "each retried delivery delivered once");
    assert_eq!(
        received.len(),
        8,
        "3 failed attempts each before the retry, then one more"
    );
    let dead = deliveries_of(&app, &id, "?status=dead").await;
    assert!(dead["data"].as_array().unwrap().is_empty(), "{dead}");
}

/// `count` events of `prefix`, each with a pending delivery to `subscription` due now, enqueued in
/// one statement (a backlog as after an outage; the API would take minutes for it).
async fn backlog(app: &TestApp, subscription: &str, prefix: &str, count: i64) {
    let subscription = uuid::Uuid::parse_str(subscription.trim_start_matches("sub_")).unwrap();
    sqlx::query(
        "with events as (
             insert into event (event_id, provider, event_type, provider_event_type, dedup_key,
                                resource_kind, resource_id, occurred_at, data, raw)
             select uuid_v7_at(clock_timestamp()), 'testprov', 'loan.active', 'loan.active', $2 || n, 'loan',
                    'ln_' || $2 || n, now(), '{}', '\\x7b7d'
             from generate_series(1, $3) as n
             returning event_id, resource_id
         )
         insert into delivery (delivery_id, subscription_id, event_id, ordering_key, status, next_attempt_at)
         select uuid_v7_at(clock_timestamp()), $1, event_id, 'loan:' || resource_id, 'pending', now()
         from events order by resource_id",
    )
    .bind(subscription)
    .bind(prefix)
    .bind(count)
    .execute(&app.db.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_rate_limited_backlog_at_the_head_of_the_queue_does_not_hold_back_other_subscriptions() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let slow = Receiver::start().await;
    let other = Receiver::start().await;
    let limited = subscribe(
        &app,
        json!({"url": slow.url, "event_types": ["loan.*"], "rate_limit_per_second": 5}),
    )
    .await;
    let unlimited = subscribe(&app, json!({"url": other.url, "event_types": ["loan.*"]})).await;
    // The limited partner's 40,000 come first in the queue (as after re-enabling it, or retrying
    // its dead letters), the other partner's 5 after them, all due now.
    backlog(&app, limited["id"].as_str().unwrap(), "slow-", 40_000).await;
    backlog(&app, unlimited["id"].as_str().unwrap(), "other-", 5).await;

    let shutdown = CancellationToken::new();
    let workers = dispatcher(&app, 2).spawn(shutdown.clone());
    let started = std::time::Instant::now();
    let delivered = other.wait_for_successes(5, WAIT).await;
    let waited = started.elapsed();
    shutdown.cancel();
    let _ = workers.await;

    assert_eq!(delivered.len(), 5);
    // Claimed 16 at a time and put back, the backlog would hold them for tens of seconds.
    assert!(
        waited < Duration::from_secs(5),
        "the other partner waited {waited:?}"
    );
    // The limited partner still got no more than its rate.
    let sent = slow.received().len();
    let allowed = 5 * waited.as_secs() as usize + 10;
    assert!(sent <= allowed, "{sent} deliveries in {waited:?} at 5/s");
}

#[tokio::test]
async fn partner_urls_on_private_networks_are_refused_unless_allow_listed() {
    let app =
        TestApp::spawn_with(|settings| settings.delivery.allow_private_networks = Vec::new()).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
    ] {
        let response = app
            .post_json(
                "/v1/subscriptions",
                Some(&app.admin_key),
                Some(&format!("ssrf-{url}")),
                &json!({"url": url, "event_types": ["*"]}),
            )
            .await;
        let problem = expect_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["pointer"], "/url", "{url}: {problem}");
    }
}

#[tokio::test]
async fn a_hostname_resolving_to_loopback_is_refused_at_connect_time() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let receiver = Receiver::start().await;
    // A hostname passes the creation check; what it resolves to is checked when connecting.
    let url = receiver.url.replace("127.0.0.1", "localhost");
    let created = subscribe(&app, json!({"url": url, "event_types": ["*"]})).await;
    ingest(&app, "ssrf-1", "loan.active", "ln").await;
    let mut settings = app.settings.clone();
    settings.delivery.allow_private_networks = Vec::new();
    settings.delivery.retry_schedule_secs = vec![0];
    let keyring =
        std::sync::Arc::new(gateway::crypto::Keyring::from_settings(&settings.encryption).unwrap());
    let strict = Dispatcher::new(app.db.pool.clone(), keyring, &settings).unwrap();

    assert_eq!(strict.run_once().await.unwrap(), 1);

    let dead = deliveries_of(&app, created["id"].as_str().unwrap(), "?status=dead").await;
    let error = dead["data"][0]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("ssrf"), "{dead}");
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn subscriptions_are_validated_and_can_be_updated_and_deleted() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let bad = app
        .post_json(
            "/v1/subscriptions",
            Some(&app.admin_key),
            Some("bad-sub"),
            &json!({"url": "ftp://x", "event_types": ["loan.*.x"], "rate_limit_per_second": 0, "resource_kind": "planet"}),
        )
        .await;
    let problem = expect_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let pointers: HashSet<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        HashSet::from([
            "/url",
            "/event_types/0",
            "/rate_limit_per_second",
            "/resource_kind"
        ])
    );

    let created = subscribe(
        &app,
        json!({"url": receiver.url, "event_types": ["*"], "description": "ledger"}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let patched = app
        .client
        .patch(format!("{}/v1/subscriptions/{id}", app.address))
        .bearer_auth(&app.admin_key)
        .json(&json!({"status": "disabled", "description": null, "event_types": ["pix.*"]}))
        .send()
        .await
        .unwrap();
    let patched = expect_json(patched, StatusCode::OK).await;
    assert_eq!(patched["status"], "disabled");
    assert_eq!(patched["description"], Value::Null);
    assert_eq!(patched["event_types"], json!(["pix.*"]));

    let deleted = app
        .client
        .delete(format!("{}/v1/subscriptions/{id}", app.address))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    expect_problem(
        app.get(&format!("/v1/subscriptions/{id}"), Some(&app.admin_key))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn the_event_and_its_deliveries_commit_together() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let receiver = Receiver::start().await;
    subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    subscribe(
        &app,
        json!({"url": receiver.url, "event_types": ["loan.*"]}),
    )
    .await;
    subscribe(&app, json!({"url": receiver.url, "event_types": ["pix.*"]})).await;

    ingest(&app, "outbox-1", "loan.active", "ln").await;
    // A duplicate webhook enqueues nothing more.
    ingest(&app, "outbox-1", "loan.active", "ln").await;

    let deliveries: i64 = sqlx::query_scalar("select count(*) from delivery")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(deliveries, 2);
}

/// An ingestor whose deliveries are enqueued claimed (for `claim_timeout_secs`) for the handoff
/// returned with it.
fn ingestor_handing_off(
    app: &TestApp,
    claim_timeout_secs: u64,
) -> (gateway::ingest::Ingestor, Handoff) {
    let mut delivery = app.settings.delivery.clone();
    delivery.claim_timeout_secs = claim_timeout_secs;
    let handoff = Handoff::new(&delivery);
    let sinks = gateway::outbox::Sinks {
        handoff: Some(handoff.clone()),
        ..gateway::outbox::Sinks::default()
    };
    let ingestor =
        gateway::ingest::Ingestor::start(app.db.pool.clone(), sinks, &app.settings.ingest, None);
    (ingestor, handoff)
}

/// Runs `dispatcher` until every delivery has `status` (bounded by `WAIT`); whether they got there.
async fn run_until_every_delivery_is(app: &TestApp, dispatcher: Dispatcher, status: &str) -> bool {
    let shutdown = CancellationToken::new();
    let workers = dispatcher.spawn(shutdown.clone());
    let reached = e2e::eventually(WAIT, || async {
        let statuses: Vec<String> = sqlx::query_scalar("select status from delivery")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
        statuses.iter().all(|s| s == status).then_some(())
    })
    .await;
    shutdown.cancel();
    let _ = workers.await;
    reached.is_some()
}

/// `ingestor` receives a one-event test webhook.
async fn receive_one(ingestor: &gateway::ingest::Ingestor, id: &str) {
    let source: std::sync::Arc<dyn providers::WebhookSource> =
        std::sync::Arc::new(e2e::source::TestSource::default());
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("x-test-token", axum::http::HeaderValue::from_static(TOKEN));
    let body = json!({"events": [{"id": id, "type": "loan.active", "resource": "ln_d"}]});
    ingestor
        .receive(&source, "", &headers, &body.to_string().into())
        .await
        .expect("stored");
}

/// A gateway with no dispatcher of its own and one subscription on a receiver, and one webhook's
/// delivery handed over, not yet taken.
async fn one_delivery_handed_over(id: &str) -> (TestApp, Receiver, Handoff) {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let receiver = Receiver::start().await;
    let created = subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    receiver.set_secrets(&[created["secret"].as_str().unwrap()]);
    let (ingestor, handoff) = ingestor_handing_off(&app, 60);
    receive_one(&ingestor, id).await;
    (app, receiver, handoff)
}

#[tokio::test]
async fn a_delivery_handed_over_for_a_subscription_disabled_since_waits_pending_unsent() {
    let (app, receiver, handoff) = one_delivery_handed_over("paused-1").await;
    // Disabled between the commit and the dispatcher taking the batch.
    sqlx::query("update subscription set status = 'disabled', disabled_reason = 'test'")
        .execute(&app.db.pool)
        .await
        .unwrap();

    let dispatcher = dispatcher(&app, 60).taking_over(handoff);
    let pending = run_until_every_delivery_is(&app, dispatcher, "pending").await;

    assert!(pending, "the delivery did not go back to pending");
    assert!(
        receiver.arrivals().is_empty(),
        "nothing is sent to a disabled subscription"
    );
}

#[tokio::test]
async fn a_dispatcher_stopping_puts_back_what_was_handed_over_and_not_taken() {
    let (app, receiver, handoff) = one_delivery_handed_over("stopping-1").await;

    // Stopped before any worker took the batch.
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    dispatcher(&app, 60)
        .taking_over(handoff)
        .spawn(shutdown)
        .await
        .unwrap();

    let (status, locked): (String, bool) =
        sqlx::query_as("select status, locked_until is not null from delivery")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), locked),
        ("pending", false),
        "claimable at once by whoever runs next, not after the claim timeout"
    );
    assert!(receiver.arrivals().is_empty());
}

#[tokio::test]
async fn deliveries_handed_over_in_memory_by_a_process_that_died_are_delivered_by_another() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let receiver = Receiver::start().await;
    let created = subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    let ordered = subscribe(
        &app,
        json!({"url": receiver.url, "event_types": ["*"], "ordered": true}),
    )
    .await;
    receiver.set_secrets(&[
        created["secret"].as_str().unwrap(),
        ordered["secret"].as_str().unwrap(),
    ]);

    // A process that died right after committing: no dispatcher ever takes from its handoff.
    let (ingestor, handoff) = ingestor_handing_off(&app, 1);
    receive_one(&ingestor, "died-1").await;
    drop((ingestor, handoff));
    // Enqueued claimed for the dead process, except the ordered subscription's (claimed in order).
    let states: Vec<(String, String)> = sqlx::query_as(
        "select s.ordered::text, d.status from delivery d join subscription s using (subscription_id)
         order by s.ordered",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        states,
        vec![
            ("false".to_owned(), "delivering".to_owned()),
            ("true".to_owned(), "pending".to_owned())
        ]
    );

    // Another dispatcher puts the expired claim back and delivers both.
    let succeeded = run_until_every_delivery_is(&app, dispatcher(&app, 1), "succeeded").await;
    assert!(succeeded, "not every delivery succeeded");
    assert_eq!(
        receiver.arrivals().len(),
        2,
        "each subscription's delivery, once"
    );
}
