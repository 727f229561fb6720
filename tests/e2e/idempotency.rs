//! `Idempotency-Key` on POST: replay, reuse, in flight, concurrency, expiry.

use std::time::Duration;

use e2e::app::{TestApp, expect_json, expect_problem};
use gateway::store::idempotency::{self, Claim, Lifetimes};
use reqwest::StatusCode;
use serde_json::json;

fn new_key_body(name: &str) -> serde_json::Value {
    json!({"name": name, "scopes": ["events:read"]})
}

#[tokio::test]
async fn a_replay_returns_the_identical_status_and_body_without_acting_twice() {
    let app = TestApp::spawn().await;
    let body = new_key_body("replayed");

    let first = app
        .post_json("/v1/api-keys", Some(&app.admin_key), Some("k-1"), &body)
        .await;
    let first_status = first.status();
    let first_type = first.headers()["content-type"].clone();
    let first_body = first.bytes().await.unwrap();
    let second = app
        .post_json("/v1/api-keys", Some(&app.admin_key), Some("k-1"), &body)
        .await;

    assert_eq!(first_status, StatusCode::CREATED);
    assert_eq!(second.status(), first_status);
    assert_eq!(second.headers()["content-type"], first_type);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.bytes().await.unwrap(), first_body);
    let created: i64 = sqlx::query_scalar("select count(*) from api_key where name = 'replayed'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(created, 1);
}

#[tokio::test]
async fn an_error_answer_is_replayed_identically_too() {
    let app = TestApp::spawn().await;
    let body = json!({"name": "", "scopes": ["events:read"]});

    let first = app
        .post_json("/v1/api-keys", Some(&app.admin_key), Some("k-err"), &body)
        .await;
    let first = expect_problem(first, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let second = app
        .post_json("/v1/api-keys", Some(&app.admin_key), Some("k-err"), &body)
        .await;
    let second = expect_json(second, StatusCode::UNPROCESSABLE_ENTITY).await;

    assert_eq!(first, second, "same body, including the first request's id");
}

#[tokio::test]
async fn the_same_key_with_a_different_body_is_409_idempotency_key_reused() {
    let app = TestApp::spawn().await;

    let first = app
        .post_json(
            "/v1/api-keys",
            Some(&app.admin_key),
            Some("k-2"),
            &new_key_body("a"),
        )
        .await;
    expect_json(first, StatusCode::CREATED).await;
    let second = app
        .post_json(
            "/v1/api-keys",
            Some(&app.admin_key),
            Some("k-2"),
            &new_key_body("b"),
        )
        .await;

    expect_problem(second, StatusCode::CONFLICT, "idempotency_key_reused").await;
    assert_eq!(app.count("api_key where name = 'b'").await, 0);
}

#[tokio::test]
async fn the_same_key_while_the_first_request_is_in_flight_is_409_idempotency_key_in_use() {
    let app = TestApp::spawn().await;
    let body = new_key_body("slow");
    let caller = gateway::keys::authenticate(&app.db.pool, &app.admin_key)
        .await
        .unwrap();
    // Another replica is processing this very request: it holds the claim.
    let first_request_hash = gateway::http::idempotency::fingerprint(
        &reqwest::Method::POST,
        "/v1/api-keys",
        &serde_json::to_vec(&body).unwrap(),
    );
    let lifetimes = Lifetimes {
        ttl: Duration::from_secs(3600),
        lock: Duration::from_secs(60),
    };
    let claim = idempotency::claim(
        &app.db.pool,
        caller.api_key_id,
        "k-3",
        &first_request_hash,
        lifetimes,
    )
    .await
    .unwrap();
    assert_eq!(claim, Claim::Acquired);

    let response = app
        .post_json("/v1/api-keys", Some(&app.admin_key), Some("k-3"), &body)
        .await;

    let problem = expect_problem(response, StatusCode::CONFLICT, "idempotency_key_in_use").await;
    assert!(problem["retry_after"].is_number());
    assert_eq!(app.count("api_key where name = 'slow'").await, 0);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_one_resource() {
    let app = TestApp::spawn().await;
    let body = new_key_body("concurrent");

    let requests =
        (0..12).map(|_| app.post_json("/v1/api-keys", Some(&app.admin_key), Some("k-4"), &body));
    let responses = futures::future::join_all(requests).await;

    let mut created_bodies = Vec::new();
    for response in responses {
        match response.status() {
            StatusCode::CREATED => created_bodies.push(response.bytes().await.unwrap()),
            StatusCode::CONFLICT => {
                expect_problem(response, StatusCode::CONFLICT, "idempotency_key_in_use").await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(!created_bodies.is_empty());
    assert!(
        created_bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "replays must be identical"
    );
    assert_eq!(app.count("api_key where name = 'concurrent'").await, 1);
}

#[tokio::test]
async fn a_post_without_an_idempotency_key_is_400() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json(
            "/v1/api-keys",
            Some(&app.admin_key),
            None,
            &new_key_body("x"),
        )
        .await;
    expect_problem(
        response,
        StatusCode::BAD_REQUEST,
        "idempotency_key_required",
    )
    .await;
    let response = app
        .post_json(
            "/v1/api-keys",
            Some(&app.admin_key),
            Some("bad key with spaces"),
            &new_key_body("x"),
        )
        .await;
    expect_problem(response, StatusCode::BAD_REQUEST, "idempotency_key_invalid").await;
}

#[tokio::test]
async fn keys_are_scoped_to_the_api_key_that_used_them() {
    let app = TestApp::spawn().await;
    let other_admin = app.key_with(&[gateway::keys::Scope::Admin]).await;

    let first = app
        .post_json(
            "/v1/api-keys",
            Some(&app.admin_key),
            Some("shared"),
            &new_key_body("one"),
        )
        .await;
    expect_json(first, StatusCode::CREATED).await;
    let second = app
        .post_json(
            "/v1/api-keys",
            Some(&other_admin),
            Some("shared"),
            &new_key_body("two"),
        )
        .await;

    expect_json(second, StatusCode::CREATED).await;
}

#[tokio::test]
async fn an_expired_record_no_longer_replays_and_the_key_can_be_used_again() {
    let app = TestApp::spawn().await;
    let first = app
        .post_json(
            "/v1/api-keys",
            Some(&app.admin_key),
            Some("k-5"),
            &new_key_body("old"),
        )
        .await;
    expect_json(first, StatusCode::CREATED).await;
    sqlx::query("update idempotency_record set expires_at = now() - interval '1 second'")
        .execute(&app.db.pool)
        .await
        .unwrap();

    let reused = app
        .post_json(
            "/v1/api-keys",
            Some(&app.admin_key),
            Some("k-5"),
            &new_key_body("new"),
        )
        .await;

    let reused = expect_json(reused, StatusCode::CREATED).await;
    assert_eq!(reused["name"], "new");
}

#[tokio::test]
async fn records_are_kept_for_the_configured_ttl() {
    let app = TestApp::spawn_with(|settings| settings.idempotency.ttl_hours = 24).await;
    let first = app
        .post_json(
            "/v1/api-keys",
            Some(&app.admin_key),
            Some("k-6"),
            &new_key_body("ttl"),
        )
        .await;
    expect_json(first, StatusCode::CREATED).await;

    let lifetime_is_ttl: bool = sqlx::query_scalar(
        "select expires_at - created_at = interval '24 hours' from idempotency_record",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();

    assert!(lifetime_is_ttl);
}

#[tokio::test]
async fn expired_records_are_purged_and_live_ones_kept() {
    let app = TestApp::spawn().await;
    for key in ["old", "fresh"] {
        let response = app
            .post_json(
                "/v1/api-keys",
                Some(&app.admin_key),
                Some(key),
                &new_key_body(key),
            )
            .await;
        expect_json(response, StatusCode::CREATED).await;
    }
    sqlx::query("update idempotency_record set expires_at = now() - interval '1 second' where idempotency_key = 'old'")
        .execute(&app.db.pool)
        .await
        .unwrap();

    let purged = idempotency::purge_expired(&app.db.pool).await.unwrap();

    assert_eq!(purged, 1);
    let left: Vec<String> = sqlx::query_scalar("select idempotency_key from idempotency_record")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(left, vec!["fresh".to_owned()]);
}

#[tokio::test]
async fn the_purge_deletes_every_expired_record_past_one_batch_and_keeps_the_live_ones() {
    let app = TestApp::spawn().await;
    let key = gateway::keys::create(&app.db.pool, "purge", &[gateway::keys::Scope::Admin])
        .await
        .unwrap();
    // More than two of the purge's 5,000-row statements, and live records beside them.
    sqlx::query(
        "insert into idempotency_record (api_key_id, idempotency_key, request_hash, state, locked_until, expires_at)
         select $1, 'k-' || n, '\\x00', 'in_flight', now(),
                case when n <= 12000 then now() - interval '1 hour' else now() + interval '1 hour' end
         from generate_series(1, 12010) as n",
    )
    .bind(key.record.api_key_id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let before = app.count("idempotency_record").await;

    let purged = idempotency::purge_expired(&app.db.pool).await.unwrap();

    assert_eq!(purged, 12_000);
    assert_eq!(app.count("idempotency_record").await, before - 12_000);
}
