//! The simulator itself: mTLS enforced, the control API and its knobs, callbacks sent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use bacen_pix_sim::{Sim, SimConfig};
use serde_json::{Value, json};

struct Running {
    sim: Sim,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn running() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let pki = bacen_pix_sim::tls::generate(dir.path()).unwrap();
    let mut config = SimConfig::standard(pki.clone());
    config.callbacks.base_delay = Duration::from_millis(20);
    let sim = Sim::start(config).await.unwrap();
    let ca = std::fs::read(&pki.ca_cert_pem).unwrap();
    let mut identity = std::fs::read(&pki.client_cert_pem).unwrap();
    identity.extend(std::fs::read(&pki.client_key_pem).unwrap());
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .identity(reqwest::Identity::from_pem(&identity).unwrap())
        .build()
        .unwrap();
    Running {
        sim,
        client,
        _dir: dir,
    }
}

impl Running {
    async fn token(&self) -> String {
        let answer: Value = self
            .client
            .post(format!("{}/oauth/token", self.sim.base_url()))
            .basic_auth(bacen_pix_sim::CLIENT_ID, Some(bacen_pix_sim::CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"].as_str().unwrap().to_owned()
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let token = self.token().await;
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.sim.base_url()))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// A receiver of callbacks: answers `statuses` in turn (then 200) and keeps the bodies.
async fn receiver(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<String>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let statuses = Arc::new(Mutex::new(statuses));
    let kept = bodies.clone();
    let router = Router::new().route(
        "/hook/pix",
        post(move |body: String| {
            let kept = kept.clone();
            let statuses = statuses.clone();
            async move {
                kept.lock().unwrap().push(body);
                let mut statuses = statuses.lock().unwrap();
                let status = match statuses.is_empty() {
                    true => 200,
                    false => statuses.remove(0),
                };
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (format!("http://{address}/hook"), bodies)
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("condition not reached in 3 seconds");
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused_at_the_handshake() {
    let running = running().await;
    let ca = std::fs::read(&running.sim.pki().ca_cert_pem).unwrap();
    let anonymous = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    let refused = anonymous
        .get(format!("{}/pix", running.sim.base_url()))
        .send()
        .await;
    assert!(refused.is_err());
    assert!(running.sim.control().requests().is_empty());
}

#[tokio::test]
async fn the_api_needs_a_bearer_token_and_answers_problem_details() {
    let running = running().await;
    let unauthenticated = running
        .client
        .get(format!(
            "{}/cob/abcdefghijklmnopqrstuvwxyz123",
            running.sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status().as_u16(), 401);
    let (status, problem) = running
        .call(
            reqwest::Method::GET,
            "/cob/abcdefghijklmnopqrstuvwxyz123",
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        problem["type"],
        "https://pix.bcb.gov.br/api/v2/error/NaoEncontrado"
    );
    let (status, problem) = running
        .call(
            reqwest::Method::PUT,
            "/cob/short",
            Some(json!({"valor": {"original": "1.00"}, "chave": bacen_pix_sim::RECEIVER_KEY})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        problem["type"],
        "https://pix.bcb.gov.br/api/v2/error/CobOperacaoInvalida"
    );
    let recorded = running.sim.control().requests();
    let with_bearer = recorded
        .iter()
        .find(|request| request.path.starts_with("/cob/") && request.status == 404)
        .unwrap();
    assert_eq!(with_bearer.headers["authorization"], "Bearer [REDACTED]");
    assert_eq!(
        with_bearer.client_cert_subject.as_deref(),
        Some(bacen_pix_sim::tls::CLIENT_COMMON_NAME)
    );
}

#[tokio::test]
async fn the_fault_knobs_fail_delay_and_take_the_psp_down() {
    let running = running().await;
    let knobs: Value = reqwest::Client::new()
        .post(format!("{}/_sim/knobs", running.sim.control_url()))
        .json(&json!({"fail_next": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(knobs["fail_next"], 1);
    let (status, problem) = running
        .call(reqwest::Method::GET, "/webhook/any", None)
        .await;
    assert_eq!(status, 503);
    assert_eq!(
        problem["type"],
        "https://pix.bcb.gov.br/api/v2/error/ServicoIndisponivel"
    );
    let (status, _) = running
        .call(reqwest::Method::GET, "/webhook/any", None)
        .await;
    assert_eq!(status, 404);

    running
        .sim
        .control()
        .update_knobs(|knobs| knobs.latency_ms = 200);
    let started = std::time::Instant::now();
    running
        .call(reqwest::Method::GET, "/webhook/any", None)
        .await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "token and call both delayed"
    );
    running.sim.control().update_knobs(|knobs| {
        knobs.latency_ms = 0;
        knobs.outage = true;
    });
    let token = running
        .client
        .post(format!("{}/oauth/token", running.sim.base_url()))
        .basic_auth(bacen_pix_sim::CLIENT_ID, Some(bacen_pix_sim::CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status().as_u16(), 503);
}

#[tokio::test]
async fn a_pix_paying_a_cob_is_notified_with_retries_and_duplicates_on_demand() {
    let running = running().await;
    let (url, bodies) = receiver(vec![500]).await;
    let (status, _) = running
        .call(
            reqwest::Method::PUT,
            &format!("/webhook/{}", bacen_pix_sim::RECEIVER_KEY),
            Some(json!({"webhookUrl": url})),
        )
        .await;
    assert_eq!(status, 200);
    let txid = "abcdefghijklmnopqrstuvwxyz0123456";
    let (status, cob) = running
        .call(
            reqwest::Method::PUT,
            &format!("/cob/{txid}"),
            Some(json!({"calendario": {"expiracao": 3600}, "valor": {"original": "37.00"}, "chave": bacen_pix_sim::RECEIVER_KEY})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(cob["status"], "ATIVA");
    let paid: Value = reqwest::Client::new()
        .post(format!(
            "{}/_sim/cobs/{txid}/pay",
            running.sim.control_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let e2e = paid["endToEndId"].as_str().unwrap().to_owned();
    wait_until(|| bodies.lock().unwrap().len() == 2).await;
    let body: Value = serde_json::from_str(&bodies.lock().unwrap()[1]).unwrap();
    assert_eq!(body["pix"][0]["endToEndId"], e2e.as_str());
    assert_eq!(body["pix"][0]["txid"], txid);
    assert_eq!(body["pix"][0]["valor"], "37.00");
    let attempts: Vec<Option<u16>> = running
        .sim
        .control()
        .deliveries()
        .iter()
        .map(|delivery| delivery.status)
        .collect();
    assert_eq!(attempts, [Some(500), Some(200)]);
    let (_, cob) = running
        .call(reqwest::Method::GET, &format!("/cob/{txid}"), None)
        .await;
    assert_eq!(cob["status"], "CONCLUIDA");
    assert_eq!(cob["pix"][0]["endToEndId"], e2e.as_str());

    running
        .sim
        .control()
        .update_knobs(|knobs| knobs.duplicate_callbacks = true);
    running
        .sim
        .control()
        .pix_in(bacen_pix_sim::PixIn {
            valor: rust_decimal::Decimal::new(500, 2),
            ..bacen_pix_sim::PixIn::default()
        })
        .unwrap();
    wait_until(|| bodies.lock().unwrap().len() == 4).await;
    {
        let bodies = bodies.lock().unwrap();
        assert_eq!(bodies[2], bodies[3]);
    }

    running.sim.control().update_knobs(|knobs| {
        knobs.duplicate_callbacks = false;
        knobs.drop_callbacks = true;
    });
    running
        .sim
        .control()
        .pix_in(bacen_pix_sim::PixIn {
            valor: rust_decimal::Decimal::new(600, 2),
            ..bacen_pix_sim::PixIn::default()
        })
        .unwrap();
    wait_until(|| {
        running
            .sim
            .control()
            .deliveries()
            .iter()
            .any(|delivery| delivery.dropped)
    })
    .await;
}

#[tokio::test]
async fn refunds_settle_and_repeat_idempotently() {
    let running = running().await;
    let e2e = running
        .sim
        .control()
        .pix_in(bacen_pix_sim::PixIn {
            valor: rust_decimal::Decimal::new(10000, 2),
            ..bacen_pix_sim::PixIn::default()
        })
        .unwrap();
    let path = format!("/pix/{e2e}/devolucao/r1");
    let (status, first) = running
        .call(reqwest::Method::PUT, &path, Some(json!({"valor": "40.00"})))
        .await;
    assert_eq!(status, 201);
    assert_eq!(first["status"], "EM_PROCESSAMENTO");
    let (status, again) = running
        .call(reqwest::Method::PUT, &path, Some(json!({"valor": "40.00"})))
        .await;
    assert_eq!(status, 201);
    assert_eq!(again["rtrId"], first["rtrId"]);
    let (status, conflict) = running
        .call(reqwest::Method::PUT, &path, Some(json!({"valor": "41.00"})))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        conflict["type"],
        "https://pix.bcb.gov.br/api/v2/error/PixDevolucaoInvalida"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (_, settled) = running.call(reqwest::Method::GET, &path, None).await;
    assert_eq!(settled["status"], "DEVOLVIDO");
    let (_, listed) = running
        .call(
            reqwest::Method::GET,
            "/pix?inicio=2020-01-01T00:00:00Z&fim=2100-01-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(listed["pix"][0]["devolucoes"][0]["status"], "DEVOLVIDO");
    assert_eq!(
        listed["parametros"]["paginacao"]["quantidadeTotalDeItens"],
        1
    );
}
