//! The provider conformance kit: every check the gateway relies on, run by a provider crate against
//! its own simulator with one macro call, plus the golden-file check and the payload mutations the
//! normalizer property tests share.
//!
//! # What is checked
//!
//! [`conformance_tests!`] expands to one `#[test]` per check below, named for the behaviour (each
//! runs on its own current-thread tokio runtime, as `#[tokio::test]` would, and starts its own
//! simulator on `127.0.0.1` with a port the OS picks). The functions are in [`checks`].
//!
//! **Verification** (the [`WebhookSource::verify`](providers::WebhookSource::verify) contract), at
//! a fixed instant passed as `now`, never the system clock:
//! - `verification_source_reports_the_described_authentication`: `authentication()` and
//!   `provider()` are what [`ProviderDescription`](providers::ProviderDescription) says;
//! - `verification_accepts_a_good_request`;
//! - `verification_refuses_a_tampered_request`: for `Signature`, a byte of the body changed and a
//!   space appended; for `Credential`, the credential changed: `InvalidSignature`;
//! - `verification_refuses_a_stale_or_future_timestamp`: accepted at the window's edges (300 s),
//!   `TimestampOutOfWindow` a second past them (`Signature` only);
//! - `verification_refuses_a_replay_after_the_window`: a request accepted once, sent again after
//!   the window, is `TimestampOutOfWindow` (`Signature` only);
//! - `verification_refuses_a_wrong_credential` (`InvalidSignature`) and
//!   `verification_refuses_a_missing_credential` (`MissingCredential`);
//! - `verification_refuses_credentials_differing_at_the_first_or_the_last_byte`: same length,
//!   one byte off at either end, both `InvalidSignature`;
//! - `verification_compares_through_a_constant_time_function`: the verifier's source calls
//!   `providers::webhook::constant_time_eq` or `subtle`'s `ct_eq` and has no `==`/`!=` on a line
//!   handling secret material (a reading of the source; there is no timing test, on purpose);
//! - `verification_accepts_a_rotated_out_credential_until_not_after` and
//!   `verification_refuses_a_rotated_out_credential_after_not_after`: rotation grace through a
//!   [`CredentialStore`](providers::CredentialStore) the kit provides ([`TestCredentials`]);
//! - `verification_reports_an_unavailable_credential_store`: `Unavailable`, then fine again;
//! - `verification_has_no_side_effects_on_rejection`: no API call, the same answer twice, the
//!   good request still accepted.
//!
//! **Normalization** (pure and deterministic, never dropping an event):
//! - `normalization_gives_every_fixture_its_type_amounts_and_resource`: each fixture verifies and
//!   gives its documented events: type, resource id of an allowed kind, exact amounts compared as
//!   decimal text (`"1234.56"`);
//! - `normalization_keeps_an_unknown_type_as_unrecognized`: `<provider>.unrecognized`, with the
//!   provider's own type kept;
//! - `normalization_gives_a_redelivery_the_same_dedup_key`: the same delivery authenticated
//!   again two minutes later;
//! - `normalization_is_deterministic`: twice, and through a second source.
//!
//! **The client**:
//! - `client_times_out_on_a_slow_provider`: latency 3 s, timeout 1 s: `Timeout`, in less than 2 s;
//! - `client_retries_an_idempotent_read_until_it_succeeds`: two 503s then success, three requests;
//! - `client_stops_retrying_after_the_configured_attempts`: 500s, 2 and 4 attempts, as many
//!   requests;
//! - `client_never_retries_a_non_idempotent_write`: one request, `Unavailable`;
//! - `client_retries_a_keyed_create_as_declared`: with [`KeyedCreateRetries::WithTheSameKey`],
//!   two 502s then success, the identical idempotency key on every attempt (read from the simulator's request log) and
//!   on a later call under the same key, and one resource made; with
//!   [`KeyedCreateRetries::Never`], one request;
//! - `client_maps_missing_resources_to_not_found`, `client_maps_conflicts_to_conflict`,
//!   `client_maps_validation_errors_to_rejected`,
//!   `client_maps_rate_limiting_to_rate_limited_with_retry_after` (429 with `Retry-After: 7` is
//!   `RateLimited { retry_after: Some(7 s) }`), `client_maps_server_errors_to_unavailable` (500,
//!   502, 503).
//!
//! **Simulator fidelity** (the knobs, through the simulator's control API over HTTP):
//! - `simulator_latency_knob_delays_answers_until_reset`,
//!   `simulator_failure_knob_fails_the_next_requests_until_reset`,
//!   `simulator_rate_limit_knob_throttles_until_reset`: the knob changes what a client sees, and
//!   [`Subject::reset_knobs`] restores it;
//! - `simulator_request_log_records_each_call`: method, status and idempotency key.
//!
//! # What is skipped, and when
//!
//! A check that cannot apply to the provider's [`WebhookAuthentication`](providers::WebhookAuthentication),
//! as its [`Subject::description`] reports it, passes after printing
//! `conformance: <check> skipped: <reason>` (run with `--nocapture` to see it): with `Credential`,
//! the stale and replay checks (no timestamp is signed; the gateway confirms such providers'
//! money-moving events by fetch instead); with `None`, every verification check but the first.
//! A subject cannot opt out of a check: every [`Subject`] method is required.
//!
//! # How to adopt it
//!
//! 1. Add the kit to the provider crate's `[dev-dependencies]`: `providers-testkit.workspace =
//!    true` (with the simulator crate).
//! 2. Write `tests/conformance.rs` (or a module of an existing test binary): a type holding the running simulator, and [`Subject`] for it:
//!    - `description()`: `<YourProvider as providers::Provider>::describe()`;
//!    - `verifier_source()`: `include_str!("../src/webhook.rs")`;
//!    - `start()`: the simulator on `127.0.0.1:0`;
//!    - `webhook_source(store, tolerance)`: the source as `register` builds it, with no configured
//!      credential, reading `store`;
//!    - `credential(seed)`, `request(delivery, credential, at)`, `without_credential`,
//!      `alter_credential(request, position)`: the provider's credential and how it travels (a
//!      signature header, an `Authorization` header, a token in the URL path...);
//!    - `fixtures()`: every documented payload with the events it must give
//!      ([`ExpectedEvent::new`]`(type, resource id).amount("/amount", "12.34")`), and one of an
//!      undocumented type expected as `<provider>.unrecognized`;
//!    - `client(settings)`: the client with [`ClientSettings`]' timeout and attempts;
//!    - `read`, `write`, `keyed_create` (+ `keyed_create_retries`, `created`), `refusals`: one
//!      idempotent GET, one non-idempotent write, one create under an idempotency key and how to
//!      count what it made, and calls the simulator refuses with 404, 409 and a validation error;
//!    - `set_knob`, `reset_knobs`, `requests`: the simulator's control API over HTTP, translated to
//!      [`Knob`] and [`LoggedRequest`] (add a knob to the simulator where it lacks one).
//! 3. Call `providers_testkit::conformance_tests!(YourSubject);` at the top level of that file.
//! 4. Delete the provider's own tests that a check now proves; keep those that prove more.
//!
//! `crates/dinie/tests/client/conformance.rs` (Signature) and
//! `crates/delbank/tests/client/conformance.rs` (Credential) are complete examples; both live in
//! the crate's one client test binary, as a module (one binary links once).
//!
//! # Layout
//!
//! - [`subject`]: [`Subject`] and the values it exchanges with the checks; [`TestCredentials`].
//! - [`checks`]: one function per check, generic over the subject.
//! - [`golden`]: [`assert_golden`], the golden-file check of event data.
//! - [`mutation`]: [`paths`], [`mutation`](mutation::mutation), [`apply`]: payload mutations for
//!   property tests.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test support: a failed check or set-up must abort the test"
)]

pub mod checks;
pub mod golden;
pub mod mutation;
pub mod subject;

pub use golden::{GoldenCase, assert_golden};
pub use mutation::{Mutation, apply, deep, mutation, paths, replacement};
pub use subject::{
    ClientSettings, Delivery, ExpectedEvent, Fixture, KeyedCreateRetries, Knob, LoggedRequest,
    Position, Refusal, Subject, TestCredentials, WebhookRequest, expiring,
};

/// `#[providers_testkit::async_trait]` on a [`Subject`] impl, so that a provider crate needs no
/// direct dependency on `async-trait`.
pub use async_trait::async_trait;

/// Runs `check` to completion on a new current-thread tokio runtime with every driver enabled
/// (what `#[tokio::test]` does).
pub fn run<F: std::future::Future<Output = ()>>(check: F) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(check);
}

/// One test per conformance check for a [`Subject`]: `conformance_tests!(DelbankSubject);` at the
/// top level of an integration test. See the crate docs for the list.
#[macro_export]
macro_rules! conformance_tests {
    ($subject:ty) => {
        $crate::conformance_tests!(@each $subject;
            verification_source_reports_the_described_authentication,
            verification_accepts_a_good_request,
            verification_refuses_a_tampered_request,
            verification_refuses_a_stale_or_future_timestamp,
            verification_refuses_a_replay_after_the_window,
            verification_refuses_a_wrong_credential,
            verification_refuses_a_missing_credential,
            verification_refuses_credentials_differing_at_the_first_or_the_last_byte,
            verification_compares_through_a_constant_time_function,
            verification_accepts_a_rotated_out_credential_until_not_after,
            verification_refuses_a_rotated_out_credential_after_not_after,
            verification_reports_an_unavailable_credential_store,
            verification_has_no_side_effects_on_rejection,
            normalization_gives_every_fixture_its_type_amounts_and_resource,
            normalization_keeps_an_unknown_type_as_unrecognized,
            normalization_gives_a_redelivery_the_same_dedup_key,
            normalization_is_deterministic,
            client_times_out_on_a_slow_provider,
            client_retries_an_idempotent_read_until_it_succeeds,
            client_stops_retrying_after_the_configured_attempts,
            client_never_retries_a_non_idempotent_write,
            client_retries_a_keyed_create_as_declared,
            client_maps_missing_resources_to_not_found,
            client_maps_conflicts_to_conflict,
            client_maps_validation_errors_to_rejected,
            client_maps_rate_limiting_to_rate_limited_with_retry_after,
            client_maps_server_errors_to_unavailable,
            simulator_latency_knob_delays_answers_until_reset,
            simulator_failure_knob_fails_the_next_requests_until_reset,
            simulator_rate_limit_knob_throttles_until_reset,
            simulator_request_log_records_each_call,
        );
    };
    (@each $subject:ty; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::run($crate::checks::$check::<$subject>());
            }
        )*
    };
}
