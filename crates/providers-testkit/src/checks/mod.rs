//! The checks, one function per behaviour; [`conformance_tests!`](crate::conformance_tests) makes a
//! test of each. Each starts its own simulator.

mod client;
mod normalization;
mod simulator;
mod verification;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use providers::{InboundCredential, VerifyError, WebhookAuthentication, WebhookSource};

pub use crate::checks::client::{
    client_maps_conflicts_to_conflict, client_maps_missing_resources_to_not_found,
    client_maps_rate_limiting_to_rate_limited_with_retry_after,
    client_maps_server_errors_to_unavailable, client_maps_validation_errors_to_rejected,
    client_never_retries_a_non_idempotent_write, client_retries_a_keyed_create_as_declared,
    client_retries_an_idempotent_read_until_it_succeeds,
    client_stops_retrying_after_the_configured_attempts, client_times_out_on_a_slow_provider,
};
pub use crate::checks::normalization::{
    normalization_gives_a_redelivery_the_same_dedup_key,
    normalization_gives_every_fixture_its_type_amounts_and_resource,
    normalization_is_deterministic, normalization_keeps_an_unknown_type_as_unrecognized,
};
pub use crate::checks::simulator::{
    simulator_failure_knob_fails_the_next_requests_until_reset,
    simulator_latency_knob_delays_answers_until_reset,
    simulator_rate_limit_knob_throttles_until_reset, simulator_request_log_records_each_call,
};
pub use crate::checks::verification::{
    verification_accepts_a_good_request,
    verification_accepts_a_rotated_out_credential_until_not_after,
    verification_compares_through_a_constant_time_function,
    verification_has_no_side_effects_on_rejection, verification_refuses_a_missing_credential,
    verification_refuses_a_replay_after_the_window,
    verification_refuses_a_rotated_out_credential_after_not_after,
    verification_refuses_a_stale_or_future_timestamp, verification_refuses_a_tampered_request,
    verification_refuses_a_wrong_credential,
    verification_refuses_credentials_differing_at_the_first_or_the_last_byte,
    verification_reports_an_unavailable_credential_store,
    verification_source_reports_the_described_authentication,
};

use crate::subject::{Delivery, Subject, TestCredentials, WebhookRequest};

/// The window given to sources that sign a timestamp.
pub(crate) const TOLERANCE: Duration = Duration::from_secs(300);

/// The instant the webhook checks happen at (any fixed time: verification must use the `now` it
/// is given, never the system clock).
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// `t0` moved by `seconds`.
pub(crate) fn at(seconds: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(seconds)
}

/// Says that `check` does not apply and why; the test passes without checking anything else.
pub(crate) fn skip(check: &str, reason: &str) {
    eprintln!("conformance: {check} skipped: {reason}");
}

/// The authentication `S` describes.
pub(crate) fn authentication<S: Subject>() -> WebhookAuthentication {
    S::description().webhook_authentication
}

/// What a webhook check works with: the subject, its source over a [`TestCredentials`] holding one
/// current credential, and the first fixture's delivery.
pub(crate) struct Webhooks<S> {
    pub(crate) subject: S,
    pub(crate) store: Arc<TestCredentials>,
    pub(crate) source: Arc<dyn WebhookSource>,
    pub(crate) current: InboundCredential,
    pub(crate) delivery: Delivery,
}

impl<S: Subject> Webhooks<S> {
    pub(crate) async fn start() -> Webhooks<S> {
        let subject = S::start().await;
        let current = subject.credential(1);
        let store = TestCredentials::holding(vec![current.clone()]);
        let source = subject.webhook_source(store.clone(), TOLERANCE);
        let fixtures = subject.fixtures();
        let delivery = match fixtures.first() {
            Some(fixture) => fixture.delivery.clone(),
            None => panic!("the subject lists no fixture"),
        };
        Webhooks {
            subject,
            store,
            source,
            current,
            delivery,
        }
    }

    /// The first fixture authenticated with `credential` at `at`.
    pub(crate) fn request(
        &self,
        credential: &InboundCredential,
        at: DateTime<Utc>,
    ) -> WebhookRequest {
        self.subject.request(&self.delivery, credential, at)
    }

    pub(crate) async fn verify(
        &self,
        request: &WebhookRequest,
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        self.source.verify(&request.inbound(), now).await
    }
}
