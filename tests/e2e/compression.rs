//! Clients that accept gzip (browsers, Python `requests`, reqwest's `gzip` feature) must be able to
//! decode every answer, problems included: a body is compressed exactly when it says so.

use std::io::Read;

use e2e::app::{TestApp, one_event};
use e2e::source::{PROVIDER, TOKEN};
use reqwest::StatusCode;
use serde_json::Value;

/// Sends `request` accepting gzip; returns the status and the body decoded as its
/// `content-encoding` says.
async fn decoded(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("answered");
    let status = response.status();
    let gzip = response
        .headers()
        .get("content-encoding")
        .is_some_and(|value| value == "gzip");
    let bytes = response.bytes().await.expect("body");
    let text = if gzip {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes.as_ref())
            .read_to_string(&mut text)
            .unwrap_or_else(|error| {
                panic!("{status}: content-encoding gzip, body not gzip: {error}")
            });
        text
    } else {
        String::from_utf8(bytes.to_vec()).expect("utf-8 body")
    };
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{status}: body is not JSON ({error}): {text:?}"));
    (status, body)
}

#[tokio::test]
async fn every_class_of_answer_decodes_for_a_client_that_accepts_gzip() {
    let app = TestApp::spawn_with(|settings| {
        settings.server.body_limit_bytes = 1024;
        settings.server.request_timeout_secs = 1;
    })
    .await;
    let v1 = |path: &str| format!("{}/v1{path}", app.address);
    let bearer = format!("Bearer {}", app.admin_key);

    let (status, body) = decoded(
        app.client
            .get(v1("/events"))
            .header("authorization", &bearer),
    )
    .await;
    assert_eq!(
        (status, body["object"].as_str()),
        (StatusCode::OK, Some("list"))
    );

    // A new API key, under `key`, with `body` as it is.
    let create_key = |key: &str, body: String| {
        app.client
            .post(v1("/api-keys"))
            .header("authorization", &bearer)
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(body)
    };
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            app.client.get(v1("/events")),
            StatusCode::UNAUTHORIZED,
            "api_key_missing",
        ),
        (
            create_key("gz-400", "{not json".to_owned()),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            app.client.get(format!("{}/nope", app.address)),
            StatusCode::NOT_FOUND,
            "route_not_found",
        ),
        (
            app.client
                .delete(v1("/events"))
                .header("authorization", &bearer),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            create_key(
                "gz-413",
                serde_json::json!({"name": "x".repeat(4096), "scopes": ["admin"]}).to_string(),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            create_key(
                "gz-422",
                r#"{"name": "x", "scopes": ["admin"], "colour": "blue"}"#.to_owned(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            app.client
                .post(format!("{}/webhooks/{PROVIDER}", app.address))
                .header("content-type", "application/json")
                .header("x-test-token", TOKEN)
                .header("x-test-delay-ms", "3000")
                .body(one_event("gz-slow", "loan.active", "ln").to_string()),
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
        ),
    ];
    for (request, expected, code) in cases {
        let (status, body) = decoded(request).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (expected, Some(code)),
            "{body}"
        );
    }

    // A 5xx: not ready once a migration is missing.
    sqlx::query(
        "delete from _sqlx_migrations where version = (select max(version) from _sqlx_migrations)",
    )
    .execute(&app.db.pool)
    .await
    .expect("migration row deleted");
    let (status, body) = decoded(app.client.get(format!("{}/readyz", app.address))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("not_ready"))
    );
}
