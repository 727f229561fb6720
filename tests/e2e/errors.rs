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

#[tokio::test]
async fn text_holding_nul_is_refused_with_its_field_never_a_500() {
    let app = TestApp::spawn().await;
    // Postgres text cannot hold U+0000: the body, query and path all refuse it up front.
    let body = serde_json::json!({"name": "a\u{0}b", "scopes": ["admin"]});
    let refused = app
        .post_json("/v1/api-keys", Some(&app.admin_key), Some("nul-1"), &body)
        .await;
    let problem = expect_problem(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/name", "{problem}");

    let query = app
        .get("/v1/events?resource_id=a%00b", Some(&app.admin_key))
        .await;
    expect_problem(query, StatusCode::BAD_REQUEST, "invalid_query").await;
    let path = app
        .get("/v1/subscriptions/a%00b", Some(&app.admin_key))
        .await;
    expect_problem(path, StatusCode::BAD_REQUEST, "invalid_path").await;

    // An escaped backslash before `u0000` is ordinary text, not a NUL.
    let body = serde_json::json!({"name": "a\\u0000b", "scopes": ["admin"]});
    let created = app
        .post_json("/v1/api-keys", Some(&app.admin_key), Some("nul-2"), &body)
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_whole_number_may_be_written_12_0_but_12_5_is_refused_with_its_field() {
    let app = TestApp::spawn().await;
    let receiver = e2e::receiver::Receiver::start().await;
    let create = |rate: serde_json::Value, key: &'static str| {
        let body = serde_json::json!({
            "url": receiver.url, "event_types": ["*"], "rate_limit_per_second": rate,
        });
        let app = &app;
        async move {
            app.post_json("/v1/subscriptions", Some(&app.admin_key), Some(key), &body)
                .await
        }
    };
    let created = create(serde_json::json!(12.0), "w-1").await;
    let created = e2e::app::expect_json(created, StatusCode::CREATED).await;
    assert_eq!(created["rate_limit_per_second"], 12);

    for (rate, key) in [
        (serde_json::json!(12.5), "w-2"),
        (serde_json::json!(-1), "w-3"),
        (serde_json::json!("12"), "w-4"),
    ] {
        let refused = create(rate, key).await;
        let problem = expect_problem(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(
            problem["errors"][0]["pointer"], "/rate_limit_per_second",
            "{problem}"
        );
    }
}

#[tokio::test]
async fn an_amount_to_pay_is_a_decimal_string_and_a_json_number_is_refused() {
    let app = TestApp::spawn().await;
    for (amount, key) in [
        (serde_json::json!(150.0), "a-1"),
        (serde_json::json!(150), "a-2"),
        (serde_json::json!("150.005"), "a-3"),
        (serde_json::json!("1e2"), "a-4"),
        (serde_json::json!("0.00"), "a-5"),
    ] {
        let body =
            serde_json::json!({"kind": "pix_dynamic", "amount": amount, "correlation_id": key});
        let refused = app
            .post_json("/v1/charges", Some(&app.admin_key), Some(key), &body)
            .await;
        let problem = expect_problem(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(
            problem["errors"][0]["pointer"], "/amount",
            "{amount}: {problem}"
        );
    }
}
