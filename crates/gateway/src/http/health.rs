//! Liveness, readiness and metrics.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::http::error::ApiError;
use crate::http::state::AppState;

/// Health or readiness status.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok` or `ready`.
    pub status: &'static str,
    /// With `/readyz?verbose`: `paygate doctor`'s findings about the database server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<crate::doctor::Finding>>,
}

/// `/readyz?verbose` adds the doctor's findings.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadyQuery {
    /// Present (any value, or none): include the findings of `paygate doctor`.
    pub verbose: Option<String>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Status)))]
pub async fn healthz() -> Json<Status> {
    Json(Status {
        status: "ok",
        findings: None,
    })
}

/// The database is reachable and every migration is applied; 503 otherwise.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    params(ReadyQuery),
    responses((status = 200, body = Status), (status = 503, body = crate::http::error::Problem))
)]
pub async fn readyz(
    State(state): State<AppState>,
    crate::http::extract::ApiQuery(query): crate::http::extract::ApiQuery<ReadyQuery>,
) -> Result<Json<Status>, ApiError> {
    let check = async { db::migrations_applied(&state.pool).await };
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(true)) => {
            let findings = match query.verbose {
                Some(_) => Some(crate::doctor::examine(&state.pool, &state.settings).await?),
                None => None,
            };
            Ok(Json(Status {
                status: "ready",
                findings,
            }))
        }
        Ok(Ok(false)) => Err(ApiError::NotReady("migrations are not applied".into())),
        Ok(Err(error)) => Err(ApiError::NotReady(format!(
            "database unreachable: {}",
            short(&error)
        ))),
        Err(_) => Err(ApiError::NotReady(
            "database did not answer within 2 s".into(),
        )),
    }
}

fn short(error: &sqlx::Error) -> &'static str {
    match error {
        sqlx::Error::PoolTimedOut => "pool timed out",
        sqlx::Error::Io(_) => "connection failed",
        sqlx::Error::Database(_) => "database error",
        _ => "error",
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
