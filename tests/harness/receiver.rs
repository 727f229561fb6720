//! `Receiver`: a partner app on 127.0.0.1 (port picked by the OS) that verifies every delivery's
//! Standard Webhooks signature with the `standardwebhooks` crate, records what it got, and answers
//! as scripted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// One delivery as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `webhook-id` (the event id).
    pub id: String,
    /// The JSON body.
    pub body: serde_json::Value,
    /// The body's exact bytes (what signatures cover).
    pub raw: Bytes,
    /// Every request header.
    pub headers: HeaderMap,
    /// Indices (into the secrets) of the secrets whose signature verified.
    pub verified_with: Vec<usize>,
    /// What the receiver answered.
    pub answered: u16,
    /// When it arrived.
    pub at: Instant,
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Script {
    /// Always this status.
    Always(u16),
    /// This status for the first `n` requests of each webhook id, then 200.
    FailFirst {
        /// Failures per id.
        n: usize,
        /// The failing status.
        status: u16,
    },
    /// 200 except for ids whose body's `resource.id` equals this: those get 500 `n` times first.
    FailResource {
        /// The resource id.
        resource: String,
        /// Failures per id.
        n: usize,
    },
    /// 429 with `Retry-After: secs` once per id, then 200.
    RetryAfterOnce {
        /// Seconds.
        secs: u64,
    },
    /// The first attempt of each delivery answers 429 with `Retry-After` as an HTTP-date `secs`
    /// seconds ahead; later ones 200.
    RetryAfterDateOnce {
        /// Seconds ahead.
        secs: u64,
    },
}

#[derive(Default)]
struct Inner {
    secrets: Vec<String>,
    script: Option<Script>,
    delay: Duration,
    received: Vec<Received>,
    arrivals: Vec<String>,
    seen: HashMap<String, usize>,
    in_flight: HashMap<String, usize>,
    max_concurrent_same_id: usize,
}

/// A running receiver.
#[derive(Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    /// Starts a receiver answering 200.
    pub async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(Inner {
            script: Some(Script::Always(200)),
            ..Inner::default()
        }));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, inner }
    }

    /// The secrets signatures are checked against (index order is reported in `verified_with`).
    pub fn set_secrets(&self, secrets: &[&str]) {
        self.lock().secrets = secrets.iter().map(|s| (*s).to_owned()).collect();
    }

    /// How to answer from now on.
    pub fn set_script(&self, script: Script) {
        self.lock().script = Some(script);
    }

    /// Holds every request this long before answering.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// The webhook ids of every request, in arrival order, recorded before answering (so a request
    /// whose sender went away is counted too).
    pub fn arrivals(&self) -> Vec<String> {
        self.lock().arrivals.clone()
    }

    /// The highest number of requests for one webhook id that were in progress at once.
    pub fn max_concurrent_same_id(&self) -> usize {
        self.lock().max_concurrent_same_id
    }

    /// Waits (bounded) until `count` deliveries answered 2xx have arrived; returns them all.
    pub async fn wait_for_successes(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let found = crate::eventually(timeout, || async {
            let received = self.received();
            let ok = received
                .iter()
                .filter(|r| (200..300).contains(&r.answered))
                .count();
            (ok >= count).then_some(received)
        })
        .await;
        found.unwrap_or_else(|| {
            panic!(
                "expected {count} successful deliveries, got {:?}",
                self.received().len()
            )
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("receiver state")
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (delay, secrets) = {
        let mut state = inner.lock().expect("receiver state");
        state.arrivals.push(id.clone());
        let in_flight = state.in_flight.entry(id.clone()).or_default();
        *in_flight += 1;
        let concurrent = *in_flight;
        state.max_concurrent_same_id = state.max_concurrent_same_id.max(concurrent);
        (state.delay, state.secrets.clone())
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let verified_with: Vec<usize> = secrets
        .iter()
        .enumerate()
        .filter(|(_, secret)| {
            standardwebhooks::Webhook::new(secret)
                .map(|webhook| webhook.verify(&body, &headers).is_ok())
                .unwrap_or(false)
        })
        .map(|(index, _)| index)
        .collect();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let mut state = inner.lock().expect("receiver state");
    if let Some(in_flight) = state.in_flight.get_mut(&id) {
        *in_flight -= 1;
    }
    let seen = {
        let seen = state.seen.entry(id.clone()).or_default();
        *seen += 1;
        *seen
    };
    let (status, retry_after) = match state.script.clone().unwrap_or(Script::Always(200)) {
        Script::Always(status) => (status, None),
        Script::FailFirst { n, status } => (if seen <= n { status } else { 200 }, None),
        Script::FailResource { resource, n } => {
            let fails = json["resource"]["id"] == resource.as_str() && seen <= n;
            (if fails { 500 } else { 200 }, None)
        }
        Script::RetryAfterOnce { secs } => {
            if seen == 1 {
                (429, Some(secs.to_string()))
            } else {
                (200, None)
            }
        }
        Script::RetryAfterDateOnce { secs } => {
            if seen == 1 {
                let at = chrono::Utc::now()
                    + chrono::Duration::seconds(i64::try_from(secs).unwrap_or(60));
                (
                    429,
                    Some(at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()),
                )
            } else {
                (200, None)
            }
        }
    };
    // An unsigned or wrongly signed delivery is refused like a real partner would.
    let status = if verified_with.is_empty() && !secrets.is_empty() {
        401
    } else {
        status
    };
    state.received.push(Received {
        id,
        body: json,
        raw: body.clone(),
        headers: headers.clone(),
        verified_with,
        answered: status,
        at: Instant::now(),
    });
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match retry_after {
        Some(value) => (status, [("retry-after", value)], "slow down").into_response(),
        None => (status, "ok").into_response(),
    }
}
