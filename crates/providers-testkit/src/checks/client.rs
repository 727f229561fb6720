//! The client: timeouts, bounded retries of idempotent calls only (a keyed create with the same
//! key on every attempt), and the provider's refusals mapped to the gateway's errors.

use std::time::{Duration, Instant};

use providers::{IdempotencyKey, ProviderError};

use crate::subject::{ClientSettings, KeyedCreateRetries, Knob, LoggedRequest, Refusal, Subject};

/// The usual settings: a generous timeout, three attempts.
pub(crate) const SETTINGS: ClientSettings = ClientSettings {
    timeout: Duration::from_secs(5),
    attempts: 3,
};

/// No retry.
pub(crate) const ONCE: ClientSettings = ClientSettings {
    timeout: Duration::from_secs(5),
    attempts: 1,
};

/// A simulator and a client of it that has made one successful read, so that whatever the client
/// sets up on first use (a token) is done before the knobs are set.
pub(crate) async fn warmed<S: Subject>(settings: ClientSettings) -> (S, S::Client) {
    let subject = S::start().await;
    let client = subject.client(settings);
    if let Err(error) = subject.read(&client).await {
        panic!("the read fails on a fresh simulator: {error:?}");
    }
    (subject, client)
}

/// Runs `call` and returns its result with the API requests it made.
pub(crate) async fn logged<S: Subject, T>(
    subject: &S,
    call: impl std::future::Future<Output = T>,
) -> (T, Vec<LoggedRequest>) {
    let before = subject.requests().await.len();
    let result = call.await;
    let requests = subject.requests().await;
    let made = requests.get(before..).unwrap_or_default().to_vec();
    (result, made)
}

pub(crate) fn fail(times: u32, status: u16) -> Knob {
    Knob::Fail {
        times,
        status,
        retry_after: None,
    }
}

fn statuses(requests: &[LoggedRequest]) -> Vec<u16> {
    requests.iter().map(|request| request.status).collect()
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// An answer slower than the client's timeout is [`ProviderError::Timeout`], reported well before
/// the answer would have come (before halfway between the timeout and the answer).
pub async fn client_times_out_on_a_slow_provider<S: Subject>() {
    let settings = ClientSettings {
        timeout: Duration::from_secs(1),
        attempts: 1,
    };
    let latency = Duration::from_secs(3);
    let (subject, client) = warmed::<S>(settings).await;
    subject.set_knob(Knob::Latency(latency)).await;
    let started = Instant::now();
    let result = subject.read(&client).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(ProviderError::Timeout { .. })),
        "{result:?}"
    );
    let bound = settings.timeout + (latency - settings.timeout) / 2;
    assert!(
        elapsed < bound,
        "the client waited {elapsed:?} (timeout {:?}, answer after {latency:?})",
        settings.timeout
    );
}

/// An idempotent read that meets 5xx answers is retried until it succeeds, within the attempts.
pub async fn client_retries_an_idempotent_read_until_it_succeeds<S: Subject>() {
    let (subject, client) = warmed::<S>(SETTINGS).await;
    subject.set_knob(fail(2, 503)).await;
    let (result, made) = logged(&subject, subject.read(&client)).await;
    assert_eq!(result, Ok(()));
    let statuses = statuses(&made);
    assert_eq!(statuses.len(), 3, "{made:?}");
    assert_eq!(statuses.get(..2), Some(&[503, 503][..]), "{made:?}");
    assert!(statuses.get(2).copied().is_some_and(is_success), "{made:?}");
}

/// Retries stop at the configured attempts (two, then four) of 500s, and the last error is
/// returned.
pub async fn client_stops_retrying_after_the_configured_attempts<S: Subject>() {
    for attempts in [2, 4] {
        let (subject, client) = warmed::<S>(ClientSettings {
            attempts,
            ..SETTINGS
        })
        .await;
        subject.set_knob(fail(10, 500)).await;
        let (result, made) = logged(&subject, subject.read(&client)).await;
        assert!(
            matches!(
                result,
                Err(ProviderError::Unavailable {
                    status: Some(500),
                    ..
                })
            ),
            "{result:?}"
        );
        assert_eq!(
            made.len(),
            usize::try_from(attempts).unwrap_or(usize::MAX),
            "{attempts} attempts configured: {made:?}"
        );
    }
}

/// A write that is not idempotent is sent once, whatever the answer: the 503 comes back as
/// [`ProviderError::Unavailable`].
pub async fn client_never_retries_a_non_idempotent_write<S: Subject>() {
    let (subject, client) = warmed::<S>(SETTINGS).await;
    subject.set_knob(fail(1, 503)).await;
    let (result, made) = logged(&subject, subject.write(&client)).await;
    assert!(
        matches!(
            result,
            Err(ProviderError::Unavailable {
                status: Some(503),
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(statuses(&made), [503], "{made:?}");
}

/// A create under an idempotency key behaves as [`Subject::keyed_create_retries`] declares:
/// retried after two 502s with the identical key on every attempt (and on a later call under
/// the same key), making one resource; or sent once.
pub async fn client_retries_a_keyed_create_as_declared<S: Subject>() {
    let (subject, client) = warmed::<S>(SETTINGS).await;
    let key = IdempotencyKey::new_random();
    match S::keyed_create_retries() {
        KeyedCreateRetries::WithTheSameKey => {
            subject.set_knob(fail(2, 502)).await;
            let (result, made) = logged(&subject, subject.keyed_create(&client, &key)).await;
            assert_eq!(result, Ok(()));
            let statuses = statuses(&made);
            assert_eq!(statuses.len(), 3, "{made:?}");
            assert_eq!(statuses.get(..2), Some(&[502, 502][..]), "{made:?}");
            assert!(statuses.get(2).copied().is_some_and(is_success), "{made:?}");
            let (again, replayed) = logged(&subject, subject.keyed_create(&client, &key)).await;
            assert_eq!(again, Ok(()), "a second call under the same key");
            let keys: Vec<Option<&str>> = made
                .iter()
                .chain(&replayed)
                .map(|request| request.idempotency_key.as_deref())
                .collect();
            let first = keys.first().copied().flatten();
            assert!(
                first.is_some_and(|sent| !sent.is_empty()),
                "no key sent: {made:?}"
            );
            assert!(
                keys.iter().all(|sent| *sent == first),
                "the attempts carry different keys: {keys:?}"
            );
            assert_eq!(subject.created(&client).await, Ok(1), "resources made");
        }
        KeyedCreateRetries::Never => {
            subject.set_knob(fail(1, 503)).await;
            let (result, made) = logged(&subject, subject.keyed_create(&client, &key)).await;
            assert!(
                matches!(result, Err(ProviderError::Unavailable { .. })),
                "{result:?}"
            );
            assert_eq!(statuses(&made), [503], "{made:?}");
            assert_eq!(subject.created(&client).await, Ok(0), "resources made");
        }
    }
}

async fn refused<S: Subject>(refusal: Refusal) -> Vec<Result<(), ProviderError>> {
    let (subject, client) = warmed::<S>(ONCE).await;
    let results = subject.refusals(&client, refusal).await;
    assert!(!results.is_empty(), "no call for {refusal:?}");
    results
}

/// A resource the provider does not have is [`ProviderError::NotFound`].
pub async fn client_maps_missing_resources_to_not_found<S: Subject>() {
    for result in refused::<S>(Refusal::NotFound).await {
        assert!(
            matches!(result, Err(ProviderError::NotFound { .. })),
            "{result:?}"
        );
    }
}

/// A conflict (409) is [`ProviderError::Conflict`].
pub async fn client_maps_conflicts_to_conflict<S: Subject>() {
    for result in refused::<S>(Refusal::Conflict).await {
        assert!(
            matches!(result, Err(ProviderError::Conflict { .. })),
            "{result:?}"
        );
    }
}

/// A validation refusal is [`ProviderError::Rejected`] with its 4xx status (not 404, 409, 429).
pub async fn client_maps_validation_errors_to_rejected<S: Subject>() {
    for result in refused::<S>(Refusal::Validation).await {
        match result {
            Err(ProviderError::Rejected { status, .. }) => assert!(
                (400..500).contains(&status) && ![404, 409, 429].contains(&status),
                "rejected with {status}"
            ),
            other => panic!("expected Rejected, got {other:?}"),
        }
    }
}

/// A 429 is [`ProviderError::RateLimited`] carrying the `Retry-After` the provider sent.
pub async fn client_maps_rate_limiting_to_rate_limited_with_retry_after<S: Subject>() {
    let (subject, client) = warmed::<S>(ONCE).await;
    subject
        .set_knob(Knob::Fail {
            times: 1,
            status: 429,
            retry_after: Some(Duration::from_secs(7)),
        })
        .await;
    let (result, made) = logged(&subject, subject.read(&client)).await;
    assert_eq!(
        result,
        Err(ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        })
    );
    assert_eq!(statuses(&made), [429]);
}

/// Every 5xx is [`ProviderError::Unavailable`] with its status.
pub async fn client_maps_server_errors_to_unavailable<S: Subject>() {
    let (subject, client) = warmed::<S>(ONCE).await;
    for status in [500, 502, 503] {
        subject.set_knob(fail(1, status)).await;
        let result = subject.read(&client).await;
        assert!(
            matches!(
                &result,
                Err(ProviderError::Unavailable { status: Some(got), .. }) if *got == status
            ),
            "{status}: {result:?}"
        );
    }
}
