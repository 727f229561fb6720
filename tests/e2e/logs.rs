//! Personal data and secrets never reach the logs unmasked.

use e2e::app::{TestApp, expect_json};
use e2e::logs::CapturedLogs;
use e2e::source::TOKEN;
use gateway::config::LogFormat;
use providers::Document;
use reqwest::StatusCode;
use serde_json::json;

const CPF: &str = "52998224725";
const CPF_FORMATTED: &str = "529.982.247-25";
const DB_PASSWORD: &str = "s3cr3t-db-pass";

// A current-thread runtime runs every task of the test on this thread, so the thread-local
// subscriber sees the gateway's logs too.
#[tokio::test(flavor = "current_thread")]
async fn documents_and_secrets_never_appear_unmasked_in_the_logs() {
    for format in [LogFormat::Pretty, LogFormat::Json] {
        let logs = CapturedLogs::default();
        let _guard = tracing::subscriber::set_default(logs.subscriber(format));

        let app = TestApp::spawn().await;
        // A webhook carrying a CPF, accepted and stored.
        let body = json!({"events": [{"id": "pii-1", "type": "pix.received", "resource": "E1", "amount": 1.00, "document": CPF_FORMATTED}]});
        expect_json(
            app.send_webhook("", Some(TOKEN), body.to_string()).await,
            StatusCode::OK,
        )
        .await;
        // A forged one, carrying the same CPF.
        let _ = app.send_webhook("", Some("forged"), body.to_string()).await;
        // Requests with a valid, an invalid and a revoked key.
        let _ = app.get("/v1/events", Some(&app.admin_key)).await;
        let _ = app
            .get("/v1/events", Some("pgk_not_a_real_key_but_secret_looking"))
            .await;
        // The domain types and the settings logged the way code would log them.
        let document = Document::parse(CPF).unwrap();
        tracing::info!(document = %document, debug = ?document, "document");
        let mut settings = app.settings.clone();
        settings.database.url = format!("postgres://paygate:{DB_PASSWORD}@db:5432/paygate").into();
        tracing::info!(?settings, "settings");
        let admin_key = app.admin_key.clone();
        app.stop().await;

        let text = logs.text();
        assert!(
            text.contains("***.982.247-**"),
            "the masked form is what gets logged: {text}"
        );
        for secret in [
            CPF,
            CPF_FORMATTED,
            DB_PASSWORD,
            admin_key.as_str(),
            TOKEN,
            "pgk_not_a_real_key_but_secret_looking",
        ] {
            assert!(
                !text.contains(secret),
                "{secret} leaked into the {format:?} logs"
            );
        }
    }
}
