//! Webhook intake: per provider and registration, webhooks received, duplicates, refused (by
//! reason) and quarantined, over time.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use chrono::Utc;
use minijinja::Value;
use serde::{Deserialize, Serialize};

use super::charts;
use super::session::{Session, SessionView, require};
use super::view::{self, Page};
use crate::http::state::AppState;
use crate::keys::Scope;
use crate::store::intake;

/// The longest period shown, in hours.
const MAX_HOURS: i64 = 24 * 14;

#[derive(Debug, Default, Deserialize)]
pub struct IntakeQuery {
    #[serde(default)]
    hours: Option<i64>,
}

#[derive(Serialize, Default)]
struct RegistrationLine {
    provider: String,
    registration: String,
    received: i64,
    duplicate: i64,
    refused: i64,
    quarantined: i64,
    reasons: String,
}

#[derive(Serialize)]
struct IntakeContext {
    session: SessionView,
    nav: &'static str,
    hours: i64,
    bucket_minutes: i32,
    registrations: Vec<RegistrationLine>,
    chart: Value,
    outcomes: Vec<(String, &'static str)>,
}

/// `GET /console/intake?hours=24`.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<IntakeQuery>,
) -> Page {
    // Intake describes providers' traffic to the gateway: the events scope reads it.
    require(&session, Scope::EventsRead)?;
    let hours = query.hours.unwrap_or(24).clamp(1, MAX_HOURS);
    let bucket_minutes: i32 = match hours {
        ..=6 => 10,
        7..=72 => 60,
        _ => 360,
    };
    let since = Utc::now() - chrono::Duration::hours(hours);
    let rows = intake::series(&state.pool, since, bucket_minutes).await?;
    let mut registrations: BTreeMap<(String, String), (RegistrationLine, BTreeMap<String, i64>)> =
        BTreeMap::new();
    let mut buckets: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for row in &rows {
        let (line, reasons) = registrations
            .entry((row.provider.clone(), row.registration.clone()))
            .or_insert_with(|| {
                (
                    RegistrationLine {
                        provider: row.provider.clone(),
                        registration: row.registration.clone(),
                        ..RegistrationLine::default()
                    },
                    BTreeMap::new(),
                )
            });
        match row.outcome.as_str() {
            "received" => line.received += row.count,
            "duplicate" => line.duplicate += row.count,
            "refused" => {
                line.refused += row.count;
                *reasons.entry(row.reason.clone()).or_default() += row.count;
            }
            _ => line.quarantined += row.count,
        }
        let label = row.bucket.format("%Y-%m-%d %H:%M").to_string();
        *buckets
            .entry(label)
            .or_default()
            .entry(row.outcome.clone())
            .or_default() += row.count;
    }
    let series: Vec<String> = ["received", "duplicate", "refused", "quarantined"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let days: Vec<(String, Vec<(String, i64)>)> = buckets
        .into_iter()
        .map(|(label, counts)| {
            let values = series
                .iter()
                .map(|name| (name.clone(), counts.get(name).copied().unwrap_or(0)))
                .collect();
            (label, values)
        })
        .collect();
    let chart = charts::stacked_counts("Webhooks by outcome over time", &series, &days);
    let outcomes = series
        .iter()
        .map(|name| (name.clone(), charts::colour_of(&series, name)))
        .collect();
    let registrations = registrations
        .into_values()
        .map(|(mut line, reasons)| {
            line.reasons = reasons
                .iter()
                .map(|(reason, count)| format!("{reason}: {count}"))
                .collect::<Vec<_>>()
                .join(", ");
            line
        })
        .collect();
    Ok(view::render(
        "intake.html",
        IntakeContext {
            session: session.view(),
            nav: "intake",
            hours,
            bucket_minutes,
            registrations,
            chart: Value::from_safe_string(chart),
            outcomes,
        },
    ))
}
