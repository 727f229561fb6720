//! Outbound benchmark: N signed Dinie webhooks posted to a running `paygate serve`, fanned out to
//! S subscriptions pointing at a receiver in this process; reports deliveries per second and the
//! end-to-end latency (provider webhook acknowledged by the gateway → partner receiver got it).
//!
//! Run `paygate serve` as for `inbound_bench` with `PAYGATE_DELIVERY__ALLOW_PRIVATE_NETWORKS`
//! allowing loopback and an admin API key (see BENCHMARKS.md), then:
//! `cargo run --release -p gateway --example outbound_bench -- BASE_URL SECRET API_KEY EVENTS SUBSCRIPTIONS`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

type Sent = Arc<Mutex<HashMap<String, Instant>>>;
type Latencies = Arc<Mutex<Vec<Duration>>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:18181".to_owned());
    let secret = args
        .next()
        .unwrap_or_else(|| "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
    let api_key = args.next().ok_or("an admin API key is required")?;
    let events: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(5_000);
    let subscriptions: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);

    let sent: Sent = Arc::new(Mutex::new(HashMap::new()));
    let latencies: Latencies = Arc::new(Mutex::new(Vec::new()));
    let receiver = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state((sent.clone(), latencies.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    for n in 0..subscriptions {
        let created = client
            .post(format!("{base}/v1/subscriptions"))
            .bearer_auth(&api_key)
            .header("idempotency-key", uuid::Uuid::now_v7().to_string())
            .json(&serde_json::json!({"url": hook, "event_types": ["loan.*"], "description": format!("bench {n}")}))
            .send()
            .await?;
        if !created.status().is_success() {
            return Err(format!("creating a subscription: {}", created.text().await?).into());
        }
    }

    let signer = standardwebhooks::Webhook::new(&secret)?;
    let run = uuid::Uuid::now_v7().simple().to_string();
    let started = Instant::now();
    let mut posts = Vec::new();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(32));
    for n in 0..events {
        let id = format!("msg_{run}_{n}");
        let body = format!(
            r#"{{"type":"loan.payment_received","timestamp":"2026-11-23T12:00:00Z","data":{{"id":"ln_{n:032}","status":"active","payment":{{"amount":"10.00","paid_at":"2026-11-23T11:59:58Z","installment_number":1}}}}}}"#
        );
        let timestamp = chrono::Utc::now().timestamp();
        let signature = signer.sign(&id, timestamp, body.as_bytes())?;
        let (client, base, sent, permit) = (
            client.clone(),
            base.clone(),
            sent.clone(),
            semaphore.clone().acquire_owned().await?,
        );
        posts.push(tokio::spawn(async move {
            let response = client
                .post(format!("{base}/webhooks/dinie"))
                .header("content-type", "application/json")
                .header("webhook-id", &id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(body)
                .send()
                .await;
            let acknowledged = Instant::now();
            if let Ok(response) = response
                && let Ok(receipt) = response.json::<serde_json::Value>().await
                && let Some(event_id) = receipt["events"][0]["id"].as_str()
                && let Ok(mut sent) = sent.lock()
            {
                sent.insert(event_id.to_owned(), acknowledged);
            }
            drop(permit);
        }));
    }
    for post in posts {
        post.await?;
    }
    let expected = events * subscriptions;
    let deadline = Instant::now() + Duration::from_secs(300);
    while latencies.lock().map(|l| l.len()).unwrap_or(0) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let mut latencies = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    latencies.sort();
    let percentile = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .copied()
    };
    let per_second =
        u128::try_from(latencies.len()).unwrap_or(0) * 1000 / elapsed.as_millis().max(1);
    println!(
        "events: {events}, subscriptions: {subscriptions}, deliveries expected: {expected}, received: {}",
        latencies.len()
    );
    println!("elapsed: {elapsed:.2?}, deliveries per second: {per_second}");
    println!(
        "end-to-end latency p50: {:.2?}, p99: {:.2?}",
        percentile(50).unwrap_or(Duration::ZERO),
        percentile(99).unwrap_or(Duration::ZERO)
    );
    Ok(())
}

async fn receive(
    State((sent, latencies)): State<(Sent, Latencies)>,
    headers: HeaderMap,
) -> StatusCode {
    let arrived = Instant::now();
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    // The delivery can arrive before the generator saw its acknowledgement: count it from then.
    let since = sent
        .lock()
        .ok()
        .and_then(|sent| sent.get(&id).copied())
        .unwrap_or(arrived);
    if let Ok(mut latencies) = latencies.lock() {
        latencies.push(arrived.saturating_duration_since(since));
    }
    StatusCode::NO_CONTENT
}
