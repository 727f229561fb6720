//! API keys: 401 for missing, invalid and revoked keys; 403 for a missing scope.

use e2e::app::{TestApp, expect_json, expect_problem};
use gateway::keys::Scope;
use reqwest::StatusCode;
use serde_json::json;

/// The id of the key called `name`, listed with `key`.
pub(crate) async fn id_of_key_named(app: &TestApp, key: &str, name: &str) -> String {
    let listed = expect_json(app.get("/v1/api-keys", Some(key)).await, StatusCode::OK).await;
    listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_request_without_a_key_is_401_api_key_missing() {
    let app = TestApp::spawn().await;
    expect_problem(
        app.get("/v1/events", None).await,
        StatusCode::UNAUTHORIZED,
        "api_key_missing",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_or_malformed_key_is_401_api_key_invalid() {
    let app = TestApp::spawn().await;
    let unknown = "pgk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    expect_problem(
        app.get("/v1/events", Some(unknown)).await,
        StatusCode::UNAUTHORIZED,
        "api_key_invalid",
    )
    .await;
    expect_problem(
        app.get("/v1/events", Some("nonsense")).await,
        StatusCode::UNAUTHORIZED,
        "api_key_invalid",
    )
    .await;
    let basic = app
        .client
        .get(format!("{}/v1/events", app.address))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    expect_problem(basic, StatusCode::UNAUTHORIZED, "api_key_invalid").await;
}

#[tokio::test]
async fn a_revoked_key_is_401_api_key_revoked() {
    let app = TestApp::spawn().await;
    let key = app.key_with(&[Scope::EventsRead]).await;
    expect_json(app.get("/v1/events", Some(&key)).await, StatusCode::OK).await;
    let id = id_of_key_named(&app, &app.admin_key, "test-key").await;

    let revoked = app
        .post_json(
            &format!("/v1/api-keys/{id}/revoke"),
            Some(&app.admin_key),
            Some("revoke-1"),
            &json!({}),
        )
        .await;
    let revoked = expect_json(revoked, StatusCode::OK).await;
    assert!(revoked["revoked_at"].is_string());

    expect_problem(
        app.get("/v1/events", Some(&key)).await,
        StatusCode::UNAUTHORIZED,
        "api_key_revoked",
    )
    .await;
}

#[tokio::test]
async fn a_key_cannot_revoke_itself_and_keeps_working() {
    let app = TestApp::spawn().await;
    let key = app.key_with(&[Scope::KeysWrite]).await;
    let own_id = id_of_key_named(&app, &key, "test-key").await;

    let refused = app
        .post_json(
            &format!("/v1/api-keys/{own_id}/revoke"),
            Some(&key),
            Some("revoke-self"),
            &json!({}),
        )
        .await;
    expect_problem(refused, StatusCode::CONFLICT, "api_key_revokes_itself").await;
    expect_json(app.get("/v1/api-keys", Some(&key)).await, StatusCode::OK).await;

    // Another key with keys:write may revoke it.
    let revoked = app
        .post_json(
            &format!("/v1/api-keys/{own_id}/revoke"),
            Some(&app.admin_key),
            Some("revoke-other"),
            &json!({}),
        )
        .await;
    expect_json(revoked, StatusCode::OK).await;
}

#[tokio::test]
async fn a_key_without_the_scope_is_403_insufficient_scope() {
    let app = TestApp::spawn().await;
    let key = app.key_with(&[Scope::KeysWrite]).await;

    let problem = expect_problem(
        app.get("/v1/events", Some(&key)).await,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("events:read"));

    let reader = app.key_with(&[Scope::EventsRead]).await;
    let raw = app
        .get(
            "/v1/events/evt_0193a1b2c3d47e8f9a0b1c2d3e4f5a6b/raw",
            Some(&reader),
        )
        .await;
    expect_problem(raw, StatusCode::FORBIDDEN, "insufficient_scope").await;
}

#[tokio::test]
async fn a_created_key_is_shown_once_and_works() {
    let app = TestApp::spawn().await;

    let created = app
        .post_json(
            "/v1/api-keys",
            Some(&app.admin_key),
            Some("create-reader"),
            &json!({"name": "ledger", "scopes": ["events:read"]}),
        )
        .await;
    let created = expect_json(created, StatusCode::CREATED).await;
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("pgk_"));
    assert!(created["id"].as_str().unwrap().starts_with("key_"));

    expect_json(app.get("/v1/events", Some(&key)).await, StatusCode::OK).await;
    let listed = expect_json(
        app.get("/v1/api-keys", Some(&app.admin_key)).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("key").is_none()),
        "{listed}"
    );
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("select key_hash from api_key")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert!(
        stored
            .iter()
            .all(|hash| hash.len() == 32 && hash.as_slice() != key.as_bytes())
    );
}

#[tokio::test]
async fn a_key_request_with_an_unknown_scope_is_a_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json(
            "/v1/api-keys",
            Some(&app.admin_key),
            Some("bad-scope"),
            &json!({"name": "x", "scopes": ["everything"]}),
        )
        .await;
    let problem = expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/scopes/0");
}
