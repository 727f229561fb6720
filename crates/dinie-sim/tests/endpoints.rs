//! Webhook endpoints: HTTPS only, as Dinie, except loopback and the hosts a deployment names
//! (`DINIE_SIM_ALLOW_HTTP_HOSTS`, e.g. `gateway` on a compose network).

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed set-up must abort the test"
)]

use base64::Engine as _;
use dinie_sim::SimConfig;

async fn register(sim: &dinie_sim::SimHandle, url: &str) -> reqwest::StatusCode {
    let client = reqwest::Client::new();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        sim.client_id(),
        sim.client_secret()
    ));
    let token: serde_json::Value = client
        .post(format!("{}/auth/token", sim.base_url()))
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    client
        .post(format!("{}/webhooks/endpoints", sim.base_url()))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&serde_json::json!({"url": url, "events": ["loan.active"]}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn plain_http_is_refused_except_to_loopback_and_the_hosts_allowed() {
    let mut config = SimConfig::fast();
    config.allow_http_hosts = vec!["gateway".to_owned()];
    let sim = dinie_sim::start(config).await.unwrap();
    assert!(
        register(&sim, "https://partner.example/hooks")
            .await
            .is_success()
    );
    assert!(
        register(&sim, "http://127.0.0.1:9/hooks")
            .await
            .is_success()
    );
    assert!(
        register(&sim, "http://gateway:8080/webhooks/dinie")
            .await
            .is_success()
    );
    assert!(
        register(&sim, "http://elsewhere:8080/webhooks/dinie")
            .await
            .is_client_error()
    );
    sim.shutdown().await;

    let sim = dinie_sim::start(SimConfig::fast()).await.unwrap();
    assert!(
        register(&sim, "http://gateway:8080/webhooks/dinie")
            .await
            .is_client_error()
    );
    sim.shutdown().await;
}
