//! Outbound benchmark: N signed Dinie webhooks posted to a running `paygate serve`, fanned out to
//! S subscriptions pointing at a receiver in this process; reports deliveries per second and the
//! end-to-end latency (provider webhook sent to the gateway → partner receiver got it).
//!
//! Run `paygate serve` as for `inbound_bench` with `PAYGATE_DELIVERY__ALLOW_PRIVATE_NETWORKS`
//! allowing loopback and an admin API key (see BENCHMARKS.md), then:
//! `cargo run --release -p gateway --example outbound_bench -- BASE_URL SECRET API_KEY EVENTS SUBSCRIPTIONS [CONCURRENCY [RATE]]`
//!
//! `CONCURRENCY` (default 64, as `inbound_bench`) is how many inbound webhooks are in flight at
//! once; `RATE` (webhooks per second, 0 for as fast as possible) paces them at a fixed rate, so the
//! latency is measured at that load. Latency runs from the moment the webhook is sent (received
//! by the gateway, on loopback) to the moment the receiver gets its delivery. `BASE_URL` may list
//! several replicas, comma-separated: subscriptions are created at the first, webhook n goes to
//! replica n modulo their count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

type Sent = Arc<Mutex<HashMap<String, Instant>>>;
/// Each delivery received: its `webhook-id` (the event id) and when it arrived.
type Arrivals = Arc<Mutex<Vec<(String, Instant)>>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bases: Arc<Vec<String>> = Arc::new(
        args.next()
            .unwrap_or_else(|| "http://127.0.0.1:18181".to_owned())
            .split(',')
            .map(str::to_owned)
            .collect(),
    );
    let secret = args
        .next()
        .unwrap_or_else(|| "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
    let api_key = args.next().ok_or("an admin API key is required")?;
    let events: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(5_000);
    let subscriptions: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);
    let concurrency: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(64);
    let rate: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let pace = (rate > 0).then(|| Duration::from_nanos(1_000_000_000 / rate));

    let sent: Sent = Arc::new(Mutex::new(HashMap::new()));
    let arrivals: Arrivals = Arc::new(Mutex::new(Vec::new()));
    let receiver = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(arrivals.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    for n in 0..subscriptions {
        let created = client
            .post(format!("{}/v1/subscriptions", bases[0]))
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
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency));
    for n in 0..events {
        if let Some(pace) = pace {
            // Open loop: webhook n leaves at start + n × interval, whatever came back.
            let due = started + pace * u32::try_from(n).unwrap_or(u32::MAX);
            tokio::time::sleep_until(due.into()).await;
        }
        let id = format!("msg_{run}_{n}");
        let body = format!(
            r#"{{"type":"loan.payment_received","timestamp":"2026-11-23T12:00:00Z","data":{{"id":"ln_{n:032}","status":"active","payment":{{"amount":"10.00","paid_at":"2026-11-23T11:59:58Z","installment_number":1}}}}}}"#
        );
        let timestamp = chrono::Utc::now().timestamp();
        let signature = signer.sign(&id, timestamp, body.as_bytes())?;
        let (client, bases, sent, permit) = (
            client.clone(),
            bases.clone(),
            sent.clone(),
            semaphore.clone().acquire_owned().await?,
        );
        posts.push(tokio::spawn(async move {
            let sending = Instant::now();
            // With several replicas, a webhook a replica did not acknowledge (it was killed) goes
            // to the next one, as a provider retries; the latency counts from the first try.
            for attempt in 0..50 {
                let base = &bases[(n + attempt) % bases.len()];
                let response = client
                    .post(format!("{base}/webhooks/dinie"))
                    .header("content-type", "application/json")
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", &signature)
                    .body(body.clone())
                    .send()
                    .await;
                if let Ok(response) = response
                    && response.status().is_success()
                    && let Ok(receipt) = response.json::<serde_json::Value>().await
                    && let Some(event_id) = receipt["events"][0]["id"].as_str()
                    && let Ok(mut sent) = sent.lock()
                {
                    sent.insert(event_id.to_owned(), sending);
                    break;
                }
                if bases.len() == 1 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            drop(permit);
        }));
    }
    for post in posts {
        post.await?;
    }
    let expected = events * subscriptions;
    let deadline = Instant::now() + Duration::from_secs(300);
    while arrivals.lock().map(|a| a.len()).unwrap_or(0) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    // A delivery often arrives before its webhook's acknowledgement (which names the event id)
    // reached the generator: latencies are computed once every acknowledgement is in.
    let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
    let arrivals = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    let mut latencies: Vec<Duration> = arrivals
        .iter()
        .filter_map(|(id, arrived)| Some(arrived.saturating_duration_since(*sent.get(id)?)))
        .collect();
    latencies.sort();
    let percentile = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .copied()
    };
    let per_second =
        u128::try_from(arrivals.len()).unwrap_or(0) * 1000 / elapsed.as_millis().max(1);
    println!(
        "events: {events}, subscriptions: {subscriptions}, in flight: {concurrency}, rate: {}",
        if rate > 0 {
            rate.to_string()
        } else {
            "unpaced".to_owned()
        }
    );
    println!(
        "deliveries expected: {expected}, received: {}, matched to their webhook: {}",
        arrivals.len(),
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

async fn receive(State(arrivals): State<Arrivals>, headers: HeaderMap) -> StatusCode {
    let arrived = Instant::now();
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if let Ok(mut arrivals) = arrivals.lock() {
        arrivals.push((id, arrived));
    }
    StatusCode::NO_CONTENT
}
