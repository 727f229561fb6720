//! The control API under `/_sim` (no authentication; loopback only): advance state machines, set
//! fault knobs, move the clock, read what happened. [`crate::SimHandle`] offers the same operations
//! in-process.
//!
//! | Route | Effect |
//! |---|---|
//! | `POST /_sim/customers/{id}/review` | `pending_kyc → under_review` without documents |
//! | `POST /_sim/customers/{id}/approve` | `under_review → active`, then a credit offer |
//! | `POST /_sim/customers/{id}/offers` | a credit offer whatever the customer's status |
//! | `POST /_sim/credit-offers/{id}/expire` | the offer expires now |
//! | `POST /_sim/loans/{id}/advance` | one step; on an active loan, pays an installment |
//! | `POST /_sim/loans/{id}/finish` | advances until `finished` |
//! | `POST /_sim/loans/{id}/cancel`, `/fail` | `cancelled` / `error` |
//! | `POST /_sim/faults`, `DELETE /_sim/faults` | add a [`crate::Fault`] / clear them |
//! | `PUT /_sim/delivery-faults` | set the [`crate::DeliveryFaults`] |
//! | `POST /_sim/tokens/expire` | every issued token expires |
//! | `POST /_sim/clock/advance` | `{"seconds": n}` moves the clock forward |
//! | `GET /_sim/requests`, `/events`, `/deliveries`, `/stats` | what happened |

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::json;

use crate::model::EmittedEvent;
use crate::problem::Problem;
use crate::{DeliveryFaults, Fault, Sim};

pub(crate) fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/customers/{id}/review", post(review_customer))
        .route("/customers/{id}/approve", post(approve_customer))
        .route("/customers/{id}/offers", post(create_offer))
        .route("/credit-offers/{id}/expire", post(expire_offer))
        .route("/loans/{id}/advance", post(advance))
        .route("/loans/{id}/finish", post(finish))
        .route("/loans/{id}/cancel", post(cancel))
        .route("/loans/{id}/fail", post(fail))
        .route("/faults", post(add_fault).delete(clear_faults))
        .route("/delivery-faults", put(set_delivery_faults))
        .route("/tokens/expire", post(expire_all_tokens))
        .route("/clock/advance", post(advance_clock))
        .route("/requests", get(requests))
        .route("/events", get(events))
        .route("/deliveries", get(deliveries))
        .route("/stats", get(stats))
        .with_state(sim)
}

/// Expires every token issued so far.
pub(crate) async fn expire_tokens(sim: &Sim) {
    let now = sim.now() - chrono::Duration::seconds(1);
    for token in sim.state.lock().await.tokens.values_mut() {
        token.expires_at = token.expires_at.min(now);
    }
}

/// Advances a loan one step and returns its new status.
pub(crate) async fn advance_loan(sim: &Sim, id: &str) -> Result<String, Problem> {
    let loan = sim.mutate(|state, now| state.advance_loan(now, id)).await?;
    Ok(serde_json::to_value(loan.status)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default())
}

/// Advances a loan until it is finished; returns the number of steps.
pub(crate) async fn finish_loan(sim: &Sim, id: &str) -> Result<u32, Problem> {
    let mut steps = 0_u32;
    loop {
        let status = advance_loan(sim, id).await?;
        steps += 1;
        if status == "finished" {
            return Ok(steps);
        }
    }
}

/// The `auto_advance` timer: approves customers under review, moves open loans one step, expires
/// lapsed offers.
pub(crate) async fn tick_forever(sim: Arc<Sim>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let terms = sim.config.offer.clone();
        let _ = sim
            .mutate(|state, now| {
                state.expire_lapsed_offers(now);
                let reviewing: Vec<String> = state
                    .customers
                    .iter()
                    .filter(|customer| customer.status == crate::model::CustomerStatus::UnderReview)
                    .map(|customer| customer.id.clone())
                    .collect();
                for id in reviewing {
                    let _ = state.approve_customer(now, &id, &terms);
                }
                for id in state.open_loans() {
                    let _ = state.advance_loan(now, &id);
                }
                Ok(())
            })
            .await;
    }
}

fn done() -> Response {
    Json(json!({"ok": true})).into_response()
}

async fn review_customer(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    sim.mutate(|state, now| state.review_customer(now, &id))
        .await?;
    Ok(done())
}

async fn approve_customer(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let terms = sim.config.offer.clone();
    sim.mutate(|state, now| state.approve_customer(now, &id, &terms))
        .await?;
    Ok(done())
}

async fn create_offer(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let terms = sim.config.offer.clone();
    let offer = sim
        .mutate(|state, now| state.create_offer(now, &id, &terms))
        .await?;
    Ok(Json(json!({"id": offer.id})).into_response())
}

async fn expire_offer(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    sim.mutate(|state, now| state.expire_offer(now, &id))
        .await?;
    Ok(done())
}

async fn advance(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Result<Response, Problem> {
    let status = advance_loan(&sim, &id).await?;
    Ok(Json(json!({"status": status})).into_response())
}

async fn finish(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Result<Response, Problem> {
    let steps = finish_loan(&sim, &id).await?;
    Ok(Json(json!({"steps": steps})).into_response())
}

async fn cancel(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Result<Response, Problem> {
    sim.mutate(|state, now| state.cancel_loan(now, &id)).await?;
    Ok(done())
}

async fn fail(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Result<Response, Problem> {
    sim.mutate(|state, now| state.fail_loan(now, &id)).await?;
    Ok(done())
}

async fn add_fault(State(sim): State<Arc<Sim>>, Json(fault): Json<Fault>) -> Response {
    sim.knobs.lock().await.faults.push(fault);
    done()
}

async fn clear_faults(State(sim): State<Arc<Sim>>) -> Response {
    sim.knobs.lock().await.faults.clear();
    done()
}

async fn set_delivery_faults(
    State(sim): State<Arc<Sim>>,
    Json(faults): Json<DeliveryFaults>,
) -> Response {
    sim.knobs.lock().await.delivery = faults;
    done()
}

async fn expire_all_tokens(State(sim): State<Arc<Sim>>) -> Response {
    expire_tokens(&sim).await;
    done()
}

#[derive(serde::Deserialize)]
struct ClockAdvance {
    seconds: i64,
}

async fn advance_clock(State(sim): State<Arc<Sim>>, Json(advance): Json<ClockAdvance>) -> Response {
    sim.clock_offset_secs
        .fetch_add(advance.seconds.max(0), Ordering::SeqCst);
    done()
}

async fn requests(State(sim): State<Arc<Sim>>) -> Response {
    Json(sim.knobs.lock().await.requests.clone()).into_response()
}

async fn events(State(sim): State<Arc<Sim>>) -> Response {
    let events: Vec<EmittedEvent> = sim.state.lock().await.events.clone();
    Json(events).into_response()
}

async fn deliveries(State(sim): State<Arc<Sim>>) -> Response {
    Json(sim.knobs.lock().await.attempts.clone()).into_response()
}

async fn stats(State(sim): State<Arc<Sim>>) -> Response {
    Json(json!({
        "token_requests": sim.token_requests.load(Ordering::SeqCst),
        "pending_deliveries": sim.pending_deliveries.load(Ordering::SeqCst),
    }))
    .into_response()
}
