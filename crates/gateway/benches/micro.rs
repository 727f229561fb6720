//! Micro-benchmarks (criterion): inbound verify + normalize per provider, signing per delivery,
//! batch reconciliation.
//!
//! Run: `cargo bench -p gateway --bench micro`

#![allow(
    clippy::expect_used,
    reason = "a benchmark whose set-up fails must stop with its message"
)]

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use gateway::delivery::signing;
use gateway::reconcile::matcher::{self, Expected, Observed};
use gateway::startup::ProviderRegistry;
use providers::{ConfiguredCredentialsOnly, InboundRequest, WebhookSource};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn sources() -> (Arc<dyn WebhookSource>, Arc<dyn WebhookSource>) {
    let mut registry = ProviderRegistry::default();
    let mut dinie = dinie::Config::new("http://127.0.0.1:1/v3", "bench", "bench");
    dinie.webhook_secrets = vec![SecretString::from(SECRET)];
    dinie::register(dinie, Arc::new(ConfiguredCredentialsOnly), &mut registry)
        .expect("dinie registers");
    let delbank = delbank::Config {
        enabled: true,
        base_url: "http://127.0.0.1:1".into(),
        api_key: SecretString::from("bench"),
        account_id: "1".into(),
        timeout_secs: 1,
        retries: 0,
        retry_base_delay_ms: 1,
        webhook_scheme: delbank::AuthScheme::Bearer,
        webhooks: vec![delbank::ManualRegistration {
            path: "pix-received-bench".into(),
            event_type: "PIX_RECEIVED".into(),
            scheme: delbank::AuthScheme::Bearer,
            header: None,
            credential: SecretString::from("bench-token"),
        }],
        confirm_by_fetch: true,
    };
    delbank::register(delbank, Arc::new(ConfiguredCredentialsOnly), &mut registry)
        .expect("delbank registers");
    (
        registry.webhook_source("dinie").expect("dinie source"),
        registry.webhook_source("delbank").expect("delbank source"),
    )
}

fn inbound(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let (dinie, delbank) = sources();

    let body = br#"{"type":"loan.payment_received","timestamp":"2026-11-23T12:00:00Z","data":{"id":"ln_550e8400e29b41d4a716446655440000","status":"active","payment":{"amount":"2291.67","paid_at":"2026-11-23T11:59:58Z","installment_number":1}}}"#;
    let now = Utc::now();
    let signature = standardwebhooks::Webhook::new(SECRET)
        .expect("secret")
        .sign("msg_bench", now.timestamp(), body)
        .expect("signs");
    let mut headers = http::HeaderMap::new();
    headers.insert("webhook-id", "msg_bench".parse().expect("header"));
    headers.insert(
        "webhook-timestamp",
        now.timestamp().to_string().parse().expect("header"),
    );
    headers.insert("webhook-signature", signature.parse().expect("header"));
    c.bench_function("dinie verify + normalize (loan.payment_received)", |b| {
        b.iter(|| {
            let request = InboundRequest {
                path: "",
                headers: &headers,
                body,
            };
            runtime
                .block_on(dinie.verify(&request, now))
                .expect("verifies");
            dinie.normalize(&request).expect("normalizes")
        });
    });

    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../delbank/fixtures/pix_received.json"
    ))
    .expect("fixture");
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "authorization",
        "Bearer bench-token".parse().expect("header"),
    );
    c.bench_function("delbank verify + normalize (PIX_RECEIVED)", |b| {
        b.iter(|| {
            let request = InboundRequest {
                path: "/pix-received-bench",
                headers: &headers,
                body: &body,
            };
            runtime
                .block_on(delbank.verify(&request, now))
                .expect("verifies");
            delbank.normalize(&request).expect("normalizes")
        });
    });
}

fn signing_per_delivery(c: &mut Criterion) {
    let secret = signing::new_secret();
    let payload = vec![b'x'; 600];
    let secrets = [secret];
    c.bench_function("sign one delivery (600-byte payload)", |b| {
        b.iter(|| signing::sign("evt_bench", 1_700_000_000, &payload, &secrets).expect("signs"));
    });
    let rotating = [signing::new_secret(), signing::new_secret()];
    c.bench_function("sign one delivery during a rotation (two secrets)", |b| {
        b.iter(|| signing::sign("evt_bench", 1_700_000_000, &payload, &rotating).expect("signs"));
    });
    assert!(rotating[0].expose_secret().starts_with("whsec_"));
}

fn reconciliation(c: &mut Criterion) {
    let base = Utc
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .expect("date");
    let count = 10_000;
    let expected: Vec<Expected> = (0..count)
        .map(|n| Expected {
            loan_id: format!("ln_{n}"),
            document: format!("{n:011}"),
            amount: Decimal::new(100_000 + i64::from(n % 997), 2),
            disbursed_at: base + Duration::minutes(i64::from(n)),
            deadline: base + Duration::minutes(i64::from(n)) + Duration::hours(24),
            cancelled: false,
            locked: None,
        })
        .collect();
    let observed: Vec<Observed> = (0..count)
        .map(|n| Observed {
            end_to_end_id: format!("E{n:031}"),
            document: format!("{n:011}"),
            amount: Decimal::new(100_000 + i64::from(n % 997), 2),
            received_at: base + Duration::minutes(i64::from(n) + 2),
            from_credit_payer: true,
        })
        .collect();
    c.bench_function("reconcile 10k disbursements x 10k receipts", |b| {
        b.iter(|| matcher::reconcile(&expected, &observed, base + Duration::days(30)));
    });
}

criterion_group!(benches, inbound, signing_per_delivery, reconciliation);
criterion_main!(benches);
