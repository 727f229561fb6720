//! Operations endpoints: health, readiness, metrics, OpenAPI and docs.

use e2e::app::{TestApp, expect_json, expect_problem, one_event};
use e2e::source::TOKEN;
use reqwest::StatusCode;

#[tokio::test]
async fn healthz_and_readyz_answer_200_when_the_database_is_up() {
    let app = TestApp::spawn().await;
    assert_eq!(
        expect_json(app.get("/healthz", None).await, StatusCode::OK).await["status"],
        "ok"
    );
    assert_eq!(
        expect_json(app.get("/readyz", None).await, StatusCode::OK).await["status"],
        "ready"
    );
}

#[tokio::test]
async fn readyz_is_503_while_the_database_is_down_and_recovers_after() {
    let app = TestApp::spawn().await;
    app.db.take_offline().await;

    let problem = expect_problem(
        app.get("/readyz", None).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("database"),
        "{problem}"
    );
    // Liveness does not depend on the database.
    expect_json(app.get("/healthz", None).await, StatusCode::OK).await;

    app.db.bring_online().await;
    expect_json(app.get("/readyz", None).await, StatusCode::OK).await;
}

#[tokio::test]
async fn readyz_is_503_when_migrations_are_not_applied() {
    let app = TestApp::spawn().await;
    sqlx::query(
        "delete from _sqlx_migrations where version = (select max(version) from _sqlx_migrations)",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();

    let problem = expect_problem(
        app.get("/readyz", None).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("migrations"),
        "{problem}"
    );
}

#[tokio::test]
async fn metrics_expose_request_and_webhook_counters_in_prometheus_format() {
    let app = TestApp::spawn().await;
    expect_json(
        app.send_webhook(
            "",
            Some(TOKEN),
            one_event("m1", "loan.active", "ln").to_string(),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let _ = app.send_webhook("", Some("wrong"), "{}").await;

    let response = app.get("/metrics", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();

    assert!(text.contains("paygate_http_requests_total"), "{text}");
    assert!(text.contains("paygate_events_stored_total"), "{text}");
    assert!(text.contains("paygate_webhooks_rejected_total"), "{text}");
    // Every provider compiled in, from its description. The recorder is process-wide and other
    // in-process gateways of this test binary register some of them: `registered` is not this
    // app's alone, so only its presence is checked.
    for (provider, authentication) in [
        ("dinie", "signature"),
        ("delbank", "credential"),
        ("bacen-pix", "credential"),
    ] {
        let series: Vec<&str> = text
            .lines()
            .filter(|line| {
                line.starts_with("paygate_provider_info{")
                    && line.contains(&format!("provider=\"{provider}\""))
            })
            .collect();
        assert!(
            !series.is_empty(),
            "no paygate_provider_info for {provider}: {text}"
        );
        for series in series {
            assert!(
                series.contains(&format!("webhook_authentication=\"{authentication}\"")),
                "{series}"
            );
            assert!(series.contains("registered=\""), "{series}");
        }
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_api() {
    let app = TestApp::spawn().await;

    let document = expect_json(app.get("/openapi.json", None).await, StatusCode::OK).await;

    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let introduction = document["info"]["description"].as_str().unwrap();
    for provider in ["`dinie`", "`delbank`", "`bacen-pix`"] {
        assert!(introduction.contains(provider), "{introduction}");
    }
    for path in [
        "/v1/events",
        "/v1/events/{id}",
        "/v1/api-keys",
        "/webhooks/{provider}",
        "/readyz",
    ] {
        assert!(document["paths"].get(path).is_some(), "missing {path}");
    }
    assert!(document["components"]["schemas"].get("Problem").is_some());
    assert!(
        document["components"]["securitySchemes"]
            .get("api_key")
            .is_some()
    );
}

#[tokio::test]
async fn the_docs_page_is_served_with_its_assets_and_no_internet() {
    let app = TestApp::spawn().await;

    let page = app.get("/docs/", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://"),
        "the page must not load assets from the internet: {html}"
    );

    let script = app.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.bytes().await.unwrap().len() > 100_000);
}

#[tokio::test]
async fn readyz_verbose_shows_the_doctors_findings_about_this_server() {
    let app = TestApp::spawn().await;
    let plain: serde_json::Value = app.get("/readyz", None).await.json().await.unwrap();
    assert!(plain.get("findings").is_none(), "{plain}");

    let verbose = app.get("/readyz?verbose", None).await;
    assert_eq!(verbose.status(), reqwest::StatusCode::OK);
    let verbose: serde_json::Value = verbose.json().await.unwrap();
    let findings = verbose["findings"].as_array().unwrap();
    let checks: Vec<&str> = findings
        .iter()
        .map(|finding| finding["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        [
            "synchronous_commit",
            "fsync",
            "autovacuum",
            "max_connections",
            "server_version",
            "clock_offset",
            "partitions",
            "key_cache"
        ]
    );
    // The gateway made its weeks ahead at start.
    assert_eq!(findings[6]["level"], "ok", "{}", findings[6]);
    // A new database's key index fits any server's shared_buffers.
    assert_eq!(findings[7]["level"], "ok", "{}", findings[7]);
    // Judged from what this server says, whatever it is configured with.
    let autovacuum: String = sqlx::query_scalar("select current_setting('autovacuum')")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let finding = &findings[2];
    assert_eq!(finding["found"], autovacuum.as_str());
    let expected = if autovacuum == "on" { "ok" } else { "warn" };
    assert_eq!(finding["level"], expected, "{finding}");
    assert_eq!(
        finding["advice"].as_str().unwrap().is_empty(),
        autovacuum == "on"
    );
}
