//! The error contract: every error is problem+json with a stable code and the request id.

use e2e::app::{TestApp, expect_problem};
use reqwest::StatusCode;

#[tokio::test]
async fn an_unknown_route_is_a_problem_with_the_request_id() {
    let app = TestApp::spawn().await;

    let response = app.get("/v1/nothing-here", Some(&app.admin_key)).await;
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let problem = expect_problem(response, StatusCode::NOT_FOUND, "route_not_found").await;

    assert_eq!(problem["request_id"], request_id.as_str());
    assert_eq!(
        problem["type"],
        "https://paygate.dev/problems/route_not_found"
    );
}

#[tokio::test]
async fn a_wrong_method_is_405_problem() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .delete(format!("{}/v1/events", app.address))
        .send()
        .await
        .unwrap();
    expect_problem(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn malformed_json_is_400_and_a_wrong_content_type_is_415() {
    let app = TestApp::spawn().await;
    let malformed = app
        .client
        .post(format!("{}/v1/api-keys", app.address))
        .bearer_auth(&app.admin_key)
        .header("idempotency-key", "m-1")
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    expect_problem(malformed, StatusCode::BAD_REQUEST, "malformed_body").await;

    let text = app
        .client
        .post(format!("{}/v1/api-keys", app.address))
        .bearer_auth(&app.admin_key)
        .header("idempotency-key", "m-2")
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    expect_problem(
        text,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn a_body_over_the_api_limit_is_413() {
    let app = TestApp::spawn_with(|settings| settings.server.body_limit_bytes = 1024).await;
    let big = serde_json::json!({"name": "x".repeat(4096), "scopes": ["admin"]});
    let response = app
        .post_json("/v1/api-keys", Some(&app.admin_key), Some("big"), &big)
        .await;
    expect_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn an_unknown_field_is_a_422_with_its_pointer() {
    let app = TestApp::spawn().await;
    let body = serde_json::json!({"name": "x", "scopes": ["admin"], "colour": "blue"});
    let response = app
        .post_json("/v1/api-keys", Some(&app.admin_key), Some("u-1"), &body)
        .await;
    let problem = expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{problem}"
    );
}
