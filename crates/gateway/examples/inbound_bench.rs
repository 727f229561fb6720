//! Inbound load generator: signed Dinie webhooks (Standard Webhooks v1), each with a fresh
//! `webhook-id`, and optionally Delbank `PIX_RECEIVED` webhooks (bearer credential, a fresh
//! endToEndId and payee account each), posted concurrently to a running `paygate serve`; reports
//! accepted webhooks per second and the acknowledgement latency (p50/p99). Every 2xx is an event
//! committed to Postgres: the gateway answers only after the commit.
//!
//! Run `paygate serve` with Dinie's inbound side enabled and the secret below, and for Delbank a
//! manual registration (see BENCHMARKS.md), then:
//! `cargo run --release -p gateway --example inbound_bench -- URL SECRET REQUESTS CONCURRENCY [RATE [DELBANK_URL DELBANK_TOKEN]]`
//!
//! `RATE` (webhooks per second, 0 for as fast as possible) paces the sends at a fixed rate, so the
//! latency is measured at that load. With `DELBANK_URL`, every other webhook is a Delbank one.
//! `URL` may list several replicas, comma-separated: webhook n goes to replica n modulo their count,
//! as a round-robin load balancer sends them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let urls: Arc<Vec<String>> = Arc::new(
        args.next()
            .unwrap_or_else(|| "http://127.0.0.1:8080/webhooks/dinie".to_owned())
            .split(',')
            .map(str::to_owned)
            .collect(),
    );
    let secret = args
        .next()
        .unwrap_or_else(|| "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
    let requests: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let concurrency: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(64);
    let rate: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let delbank = args.next().zip(args.next());
    let pace = (rate > 0).then(|| Duration::from_nanos(1_000_000_000 / rate));
    let signer = Arc::new(standardwebhooks::Webhook::new(&secret)?);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(requests)));
    let failures = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let resent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let run = uuid::Uuid::now_v7().simple().to_string();

    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let delbank = delbank.clone();
        let (client, signer, next, latencies, failures, resent, urls, run) = (
            client.clone(),
            signer.clone(),
            next.clone(),
            latencies.clone(),
            failures.clone(),
            resent.clone(),
            urls.clone(),
            run.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= requests {
                    break;
                }
                if let Some(pace) = pace {
                    // Open loop: webhook n leaves at start + n × interval, whatever came back.
                    let due = started + pace * u32::try_from(n).unwrap_or(u32::MAX);
                    tokio::time::sleep_until(due.into()).await;
                }
                if let Some((delbank_url, token)) = delbank.as_ref().filter(|_| n % 2 == 1) {
                    let sent = Instant::now();
                    let response = client
                        .post(delbank_url)
                        .header("authorization", format!("Bearer {token}"))
                        .header("content-type", "application/json")
                        .body(delbank_pix_received(&run, n))
                        .send()
                        .await;
                    match response {
                        Ok(response) if response.status().is_success() => {
                            mine.push(sent.elapsed())
                        }
                        _ => {
                            failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    continue;
                }
                let id = format!("msg_{run}_{n}");
                let body = format!(
                    r#"{{"type":"loan.payment_received","timestamp":"2026-11-23T12:00:00Z","data":{{"id":"ln_{n:032}","status":"active","payment":{{"amount":"2291.67","paid_at":"2026-11-23T11:59:58Z","installment_number":1}}}}}}"#
                );
                // With several replicas, a webhook a replica did not acknowledge (it was killed)
                // goes to the next one, as a provider retries; the latency is the acknowledged try's.
                for attempt in 0.. {
                    let timestamp = chrono::Utc::now().timestamp();
                    let Ok(signature) = signer.sign(&id, timestamp, body.as_bytes()) else {
                        failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        break;
                    };
                    let sent = Instant::now();
                    let response = client
                        .post(&urls[(n + attempt) % urls.len()])
                        .header("content-type", "application/json")
                        .header("webhook-id", &id)
                        .header("webhook-timestamp", timestamp.to_string())
                        .header("webhook-signature", signature)
                        .body(body.clone())
                        .send()
                        .await;
                    match response {
                        Ok(response) if response.status().is_success() => {
                            mine.push(sent.elapsed());
                            break;
                        }
                        _ if urls.len() > 1 && attempt < 50 => {
                            resent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        _ => {
                            failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            break;
                        }
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
    println!(
        "requests: {requests}, concurrency: {concurrency}, rate: {}, delbank share: {}",
        if rate > 0 {
            rate.to_string()
        } else {
            "unpaced".to_owned()
        },
        if delbank.is_some() { "1/2" } else { "none" }
    );
    println!(
        "accepted (2xx, committed): {accepted}, failed: {}, resent to another replica: {}",
        failures.load(std::sync::atomic::Ordering::Relaxed),
        resent.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!("elapsed: {elapsed:.2?}, accepted per second: {per_second}");
    println!(
        "ack latency p50: {:.2?}, p99: {:.2?}",
        percentile(50).unwrap_or(Duration::ZERO),
        percentile(99).unwrap_or(Duration::ZERO)
    );
    if let Some(ticks) = own_cpu_ticks() {
        println!("cpu seconds: generator {}.{:02}", ticks / 100, ticks % 100);
    }
    Ok(())
}

/// User + system CPU time of this process so far (Linux `/proc`), in hundredths of a second: the
/// generator shares the machine's cores with the gateway and Postgres.
fn own_cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start at state, field 3.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

/// A Delbank `PIX_RECEIVED` webhook (the shape of the provider's documented example) with a fresh
/// endToEndId and one of 1,000 payee accounts, each held by a valid CPF.
fn delbank_pix_received(run: &str, n: usize) -> String {
    // E + ISPB + yyyyMMddHHmm + 11 characters unique to this run and webhook.
    let end_to_end_id = format!("E18236120202611231200{}{:07}", &run[28..32], n % 10_000_000);
    let payee = cpf(100_000_000 + u64::try_from(n % 1000).unwrap_or(0));
    format!(
        r#"{{"eventType":"PIX_RECEIVED","correlationId":"{end_to_end_id}","referenceId":"{end_to_end_id}","endToEndId":"{end_to_end_id}","amount":12.12,"createdAt":"2026-11-23T12:00:00.0000000Z","proof":{{"eventType":"PIX_PAYMENT_EFFECTIVE","endToEndId":"{end_to_end_id}","idempotencyKey":"{end_to_end_id}","correlationId":"{end_to_end_id}","status":"PIX_EFFECTIVE","amount":12.12,"payer":{{"number":"123456","branch":"1","type":"PAYMENT","participant":{{"name":"NU PAGAMENTOS - IP","ispb":"18236120"}},"holder":{{"name":"JOAO DA SILVA","document":"***876977**","type":"NATURAL"}}}},"payee":{{"number":"{n}","branch":"0001","type":"CURRENT","participant":{{"name":"DELCRED SCD S.A.","ispb":"38224857"}},"holder":{{"name":"CLIENTE","document":"{payee}","type":"NATURAL"}}}}}}}}"#
    )
}

/// A valid CPF whose first nine digits are `base` (zero-padded).
fn cpf(base: u64) -> String {
    let mut digits: Vec<u64> = format!("{base:09}")
        .bytes()
        .map(|b| u64::from(b - b'0'))
        .collect();
    for length in [9u64, 10] {
        let sum: u64 = digits
            .iter()
            .zip((2..=length + 1).rev())
            .map(|(digit, weight)| digit * weight)
            .sum();
        let check = (sum * 10) % 11 % 10;
        digits.push(check);
    }
    digits.iter().map(u64::to_string).collect()
}
