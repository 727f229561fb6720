//! Inbound load generator: signed Dinie webhooks (Standard Webhooks v1), each with a fresh
//! `webhook-id`, posted concurrently to a running `paygate serve`; reports accepted webhooks per
//! second and the acknowledgement latency (p50/p99). Every 2xx is an event committed to Postgres:
//! the gateway answers only after the commit.
//!
//! Run `paygate serve` with Dinie's inbound side enabled and the secret below (see BENCHMARKS.md),
//! then: `cargo run --release -p gateway --example inbound_bench -- URL SECRET REQUESTS CONCURRENCY`

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8080/webhooks/dinie".to_owned());
    let secret = args
        .next()
        .unwrap_or_else(|| "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
    let requests: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let concurrency: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(64);
    let signer = Arc::new(standardwebhooks::Webhook::new(&secret)?);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(requests)));
    let failures = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let run = uuid::Uuid::now_v7().simple().to_string();

    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, signer, next, latencies, failures, url, run) = (
            client.clone(),
            signer.clone(),
            next.clone(),
            latencies.clone(),
            failures.clone(),
            url.clone(),
            run.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= requests {
                    break;
                }
                let id = format!("msg_{run}_{n}");
                let body = format!(
                    r#"{{"type":"loan.payment_received","timestamp":"2026-11-23T12:00:00Z","data":{{"id":"ln_{n:032}","status":"active","payment":{{"amount":"2291.67","paid_at":"2026-11-23T11:59:58Z","installment_number":1}}}}}}"#
                );
                let timestamp = chrono::Utc::now().timestamp();
                let Ok(signature) = signer.sign(&id, timestamp, body.as_bytes()) else {
                    failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    continue;
                };
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(body)
                    .send()
                    .await;
                match response {
                    Ok(response) if response.status().is_success() => mine.push(sent.elapsed()),
                    _ => {
                        failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
            latencies.lock().await.extend(mine);
        }));
    }
    for worker in workers {
        worker.await?;
    }
    let elapsed = started.elapsed();
    let mut latencies = latencies.lock().await.clone();
    latencies.sort();
    let percentile = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .copied()
    };
    let accepted = latencies.len();
    let per_second = u128::try_from(accepted).unwrap_or(0) * 1000 / elapsed.as_millis().max(1);
    println!("requests: {requests}, concurrency: {concurrency}");
    println!(
        "accepted (2xx, committed): {accepted}, failed: {}",
        failures.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!("elapsed: {elapsed:.2?}, accepted per second: {per_second}");
    println!(
        "ack latency p50: {:.2?}, p99: {:.2?}",
        percentile(50).unwrap_or(Duration::ZERO),
        percentile(99).unwrap_or(Duration::ZERO)
    );
    Ok(())
}
