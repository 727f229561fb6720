//! Simulator fidelity: each fault knob, set through the control API, changes what a client sees,
//! and resetting the knobs restores the normal answers; the request log records every call.

use std::time::Duration;

use providers::{IdempotencyKey, ProviderError};

use crate::checks::client::{ONCE, fail, logged, warmed};
use crate::subject::{ClientSettings, Knob, Subject};

/// With latency above the client's timeout the read times out; after a reset the same client
/// reads again.
pub async fn simulator_latency_knob_delays_answers_until_reset<S: Subject>() {
    let settings = ClientSettings {
        timeout: Duration::from_secs(1),
        attempts: 1,
    };
    let (subject, client) = warmed::<S>(settings).await;
    subject
        .set_knob(Knob::Latency(Duration::from_millis(2_500)))
        .await;
    let slow = subject.read(&client).await;
    assert!(
        matches!(slow, Err(ProviderError::Timeout { .. })),
        "{slow:?}"
    );
    subject.reset_knobs().await;
    assert_eq!(subject.read(&client).await, Ok(()), "after the reset");
}

/// The failure knob fails exactly the next N requests, with its status; a reset clears what is
/// left of it.
pub async fn simulator_failure_knob_fails_the_next_requests_until_reset<S: Subject>() {
    let (subject, client) = warmed::<S>(ONCE).await;
    subject.set_knob(fail(2, 502)).await;
    for attempt in 1..=2 {
        let (result, made) = logged(&subject, subject.read(&client)).await;
        assert!(
            matches!(
                result,
                Err(ProviderError::Unavailable {
                    status: Some(502),
                    ..
                })
            ),
            "request {attempt}: {result:?}"
        );
        assert_eq!(made.len(), 1);
    }
    assert_eq!(subject.read(&client).await, Ok(()), "the third request");
    subject.set_knob(fail(5, 503)).await;
    subject.reset_knobs().await;
    assert_eq!(subject.read(&client).await, Ok(()), "after the reset");
}

/// The failure knob with 429 throttles, with the `Retry-After` asked for; a reset clears it.
pub async fn simulator_rate_limit_knob_throttles_until_reset<S: Subject>() {
    let (subject, client) = warmed::<S>(ONCE).await;
    subject
        .set_knob(Knob::Fail {
            times: 3,
            status: 429,
            retry_after: Some(Duration::from_secs(2)),
        })
        .await;
    let throttled = subject.read(&client).await;
    assert_eq!(
        throttled,
        Err(ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(2))
        })
    );
    subject.reset_knobs().await;
    let fresh = subject.client(ONCE);
    assert_eq!(subject.read(&fresh).await, Ok(()), "after the reset");
}

/// The request log records each API call with its method, its idempotency key and its status.
pub async fn simulator_request_log_records_each_call<S: Subject>() {
    let (subject, client) = warmed::<S>(ONCE).await;
    let (read, made) = logged(&subject, subject.read(&client)).await;
    assert_eq!(read, Ok(()));
    assert_eq!(made.len(), 1, "{made:?}");
    let Some(logged_read) = made.first() else {
        return;
    };
    assert_eq!(logged_read.method, "GET");
    assert!((200..300).contains(&logged_read.status), "{logged_read:?}");
    assert!(!logged_read.path.is_empty());

    let key = IdempotencyKey::new_random();
    let (create, made) = logged(&subject, subject.keyed_create(&client, &key)).await;
    assert_eq!(create, Ok(()));
    assert_eq!(made.len(), 1, "{made:?}");
    let Some(logged_create) = made.first() else {
        return;
    };
    assert_ne!(logged_create.method, "GET");
    assert!(
        logged_create.idempotency_key.is_some(),
        "the key is not logged: {logged_create:?}"
    );

    subject.set_knob(fail(1, 503)).await;
    let (_, made) = logged(&subject, subject.write(&client)).await;
    assert_eq!(
        made.iter()
            .map(|request| request.status)
            .collect::<Vec<_>>(),
        [503]
    );
}
