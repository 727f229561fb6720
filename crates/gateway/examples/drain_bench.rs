//! Backlog drain benchmark (`bench/drain.sh`), in two modes:
//!
//! - `drain_bench setup BASE_URL API_KEY RECEIVER_PORT SUBSCRIPTIONS RATE`: creates SUBSCRIPTIONS
//!   subscriptions, each at `http://127.0.0.1:RECEIVER_PORT/hook/<n>` and limited to RATE
//!   deliveries per second.
//! - `drain_bench receive RECEIVER_PORT EXPECTED PID_FILE RATE`: the partner endpoint. Counts
//!   deliveries per subscription and per second until EXPECTED distinct ones arrived (or nothing
//!   arrives for 30 s), samples the RSS of the process whose pid appears in PID_FILE every 100 ms,
//!   and prints the drain rate, the RSS over time, and each subscription's busiest second against
//!   RATE.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

#[derive(Default)]
struct Tally {
    /// (subscription path, webhook-id) seen.
    seen: HashSet<(String, String)>,
    duplicates: u64,
    /// Per subscription: deliveries in each second since the first arrival.
    per_second: HashMap<String, Vec<u32>>,
    first: Option<Instant>,
    last: Option<Instant>,
}

type Shared = Arc<Mutex<Tally>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("setup") => setup(&args[1..]).await,
        Some("receive") => receive(&args[1..]).await,
        _ => Err("usage: drain_bench setup|receive ...".into()),
    }
}

async fn setup(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let [base, key, port, count, rate] = args else {
        return Err("setup BASE_URL API_KEY RECEIVER_PORT SUBSCRIPTIONS RATE".into());
    };
    let client = reqwest::Client::new();
    for n in 0..count.parse::<usize>()? {
        let response = client
            .post(format!("{base}/v1/subscriptions"))
            .bearer_auth(key)
            .header("idempotency-key", format!("drain-sub-{n}"))
            .json(&serde_json::json!({
                "url": format!("http://127.0.0.1:{port}/hook/{n}"),
                "event_types": ["pix.*"],
                "rate_limit_per_second": rate.parse::<u32>()?,
            }))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("subscription {n}: {}", response.text().await?).into());
        }
    }
    println!("created {count} subscriptions limited to {rate}/s");
    Ok(())
}

async fn hook(
    State(tally): State<Shared>,
    Path(subscription): Path<String>,
    headers: HeaderMap,
) -> StatusCode {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let now = Instant::now();
    if let Ok(mut tally) = tally.lock() {
        let first = *tally.first.get_or_insert(now);
        tally.last = Some(now);
        let second = usize::try_from(now.duration_since(first).as_secs()).unwrap_or(0);
        let counts = tally.per_second.entry(subscription.clone()).or_default();
        if counts.len() <= second {
            counts.resize(second + 1, 0);
        }
        counts[second] += 1;
        if !tally.seen.insert((subscription, id)) {
            tally.duplicates += 1;
        }
    }
    StatusCode::OK
}

fn megabytes(kib: u64) -> String {
    format!("{}.{} MB", kib / 1024, kib % 1024 * 10 / 1024)
}

fn rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn receive(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let [port, expected, pid_file, rate] = args else {
        return Err("receive RECEIVER_PORT EXPECTED PID_FILE RATE".into());
    };
    let expected: usize = expected.parse()?;
    let rate: u32 = rate.parse()?;
    let tally: Shared = Arc::default();
    let app = axum::Router::new()
        .route("/hook/{subscription}", axum::routing::post(hook))
        .with_state(tally.clone());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    let pid = loop {
        if let Ok(pid) = std::fs::read_to_string(pid_file)
            && !pid.trim().is_empty()
        {
            break pid.trim().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let started = Instant::now();
    // (milliseconds since the gateway started, RSS in KiB, deliveries seen so far)
    let mut samples: Vec<(u128, u64, usize)> = Vec::new();
    let mut last_progress = (0usize, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let seen = tally.lock().map(|t| t.seen.len()).unwrap_or(0);
        if let Some(rss) = rss_kib(&pid) {
            samples.push((started.elapsed().as_millis(), rss, seen));
        }
        if seen >= expected {
            break;
        }
        if seen > last_progress.0 {
            last_progress = (seen, Instant::now());
        } else if last_progress.1.elapsed() > Duration::from_secs(30) {
            println!("no progress for 30 s: stopping at {seen} of {expected}");
            break;
        }
    }
    let tally = tally.lock().map_err(|_| "poisoned")?;
    let span_ms = match (tally.first, tally.last) {
        (Some(first), Some(last)) => last.duration_since(first).as_millis(),
        _ => 0,
    };
    let delivered = tally.seen.len();
    println!(
        "drained {delivered} of {expected} deliveries in {} ms: {}/s ({} duplicates)",
        span_ms,
        u128::try_from(delivered).unwrap_or(0) * 1000 / span_ms.max(1),
        tally.duplicates
    );
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let first_rss = samples.first().map_or(0, |s| s.1);
    println!(
        "gateway RSS: {} at start, peak {}",
        megabytes(first_rss),
        megabytes(peak)
    );
    // The RSS at each tenth of the drain, to show it flat (or not).
    for tenth in 1..=10 {
        let target = delivered * tenth / 10;
        if let Some(sample) = samples.iter().find(|s| s.2 >= target) {
            println!(
                "  {:>3}% drained at {:>7} ms: RSS {}",
                tenth * 10,
                sample.0,
                megabytes(sample.1)
            );
        }
    }
    let mut over = 0;
    let mut names: Vec<&String> = tally.per_second.keys().collect();
    names.sort();
    for name in names {
        let counts = &tally.per_second[name];
        // The first and last seconds are partial; the busiest whole second is what the limit bounds.
        let busiest = counts.iter().copied().max().unwrap_or(0);
        if busiest > rate {
            over += 1;
        }
        let total: u32 = counts.iter().sum();
        println!(
            "  subscription {name}: {total} deliveries, busiest second {busiest} (limit {rate})"
        );
    }
    println!("subscriptions over their rate limit in some second: {over}");
    Ok(())
}
