//! Verification: the good is accepted, the tampered, stale, replayed, wrong and missing refused
//! with the right [`VerifyError`], comparisons in constant time, rotation with a grace period, no
//! side effect on rejection.

use providers::{VerifyError, WebhookAuthentication};

use crate::checks::{TOLERANCE, Webhooks, at, authentication, skip};
use crate::subject::{Position, Subject, expiring};

/// Whether verification applies at all: with [`WebhookAuthentication::None`] there is nothing to
/// verify, and every event is a hint the gateway confirms.
fn verifies<S: Subject>(check: &str) -> bool {
    match authentication::<S>() {
        WebhookAuthentication::Signature | WebhookAuthentication::Credential => true,
        WebhookAuthentication::None => {
            skip(
                check,
                "the provider describes no webhook authentication (none): nothing to verify",
            );
            false
        }
    }
}

/// Whether the scheme signs a timestamp (only then can a stale or replayed request be told apart).
fn signs_a_timestamp<S: Subject>(check: &str) -> bool {
    match authentication::<S>() {
        WebhookAuthentication::Signature => true,
        WebhookAuthentication::Credential | WebhookAuthentication::None => {
            skip(
                check,
                "the provider's webhook authentication signs no timestamp (credential or none): a \
                 stale or replayed request looks like a fresh one, which is why the gateway \
                 confirms its money-moving events by fetch",
            );
            false
        }
    }
}

/// The source says what the description says, and names the description's provider.
pub async fn verification_source_reports_the_described_authentication<S: Subject>() {
    let webhooks = Webhooks::<S>::start().await;
    let description = S::description();
    assert_eq!(
        webhooks.source.authentication(),
        description.webhook_authentication,
        "the source's authentication() differs from the provider's description"
    );
    assert_eq!(webhooks.source.provider(), description.name);
}

/// A request authenticated with the current credential verifies, through the store under the
/// provider's own name.
pub async fn verification_accepts_a_good_request<S: Subject>() {
    if !verifies::<S>("verification_accepts_a_good_request") {
        return;
    }
    let webhooks = Webhooks::<S>::start().await;
    let good = webhooks.request(&webhooks.current, at(0));
    assert_eq!(webhooks.verify(&good, at(0)).await, Ok(()));
    let name = S::description().name;
    let lookups = webhooks.store.lookups();
    assert!(
        lookups
            .iter()
            .all(|(provider, _)| provider == name.as_str()),
        "the source asked the store for another provider's credentials: {lookups:?}"
    );
}

/// A signature scheme refuses a changed body (a byte changed, a byte added); a credential scheme
/// refuses a changed credential. Either way with [`VerifyError::InvalidSignature`].
pub async fn verification_refuses_a_tampered_request<S: Subject>() {
    if !verifies::<S>("verification_refuses_a_tampered_request") {
        return;
    }
    let webhooks = Webhooks::<S>::start().await;
    let good = webhooks.request(&webhooks.current, at(0));
    let mut tampered = Vec::new();
    match authentication::<S>() {
        WebhookAuthentication::Signature => {
            let mut changed = good.clone();
            let middle = changed.body.len() / 2;
            match changed.body.get_mut(middle) {
                Some(byte) => *byte = if *byte == b'1' { b'2' } else { b'1' },
                None => changed.body.push(b'1'),
            }
            tampered.push(("a byte of the body changed", changed));
            let mut extended = good.clone();
            extended.body.push(b' ');
            tampered.push(("a space added to the body", extended));
        }
        WebhookAuthentication::Credential | WebhookAuthentication::None => {
            let changed = webhooks.subject.alter_credential(&good, Position::Last);
            tampered.push(("the credential changed", changed));
        }
    }
    for (what, request) in tampered {
        assert_ne!(request, good, "{what}: the request did not change");
        assert_eq!(
            webhooks.verify(&request, at(0)).await,
            Err(VerifyError::InvalidSignature),
            "{what}"
        );
    }
}

/// A timestamp just inside the window verifies; one a second outside it, in the past or the
/// future, is [`VerifyError::TimestampOutOfWindow`]: the window is checked against the `now`
/// passed to `verify`.
pub async fn verification_refuses_a_stale_or_future_timestamp<S: Subject>() {
    if !signs_a_timestamp::<S>("verification_refuses_a_stale_or_future_timestamp") {
        return;
    }
    let webhooks = Webhooks::<S>::start().await;
    let window = i64::try_from(TOLERANCE.as_secs()).unwrap_or(i64::MAX);
    let signed = webhooks.request(&webhooks.current, at(0));
    for (now, expected) in [
        (window, Ok(())),
        (-window, Ok(())),
        (window + 1, Err(VerifyError::TimestampOutOfWindow)),
        (-window - 1, Err(VerifyError::TimestampOutOfWindow)),
    ] {
        assert_eq!(
            webhooks.verify(&signed, at(now)).await,
            expected,
            "signed at t0, verified at t0 {now:+} s"
        );
    }
}

/// A request that verified once, sent again after the window, is refused with
/// [`VerifyError::TimestampOutOfWindow`].
pub async fn verification_refuses_a_replay_after_the_window<S: Subject>() {
    if !signs_a_timestamp::<S>("verification_refuses_a_replay_after_the_window") {
        return;
    }
    let webhooks = Webhooks::<S>::start().await;
    let window = i64::try_from(TOLERANCE.as_secs()).unwrap_or(i64::MAX);
    let original = webhooks.request(&webhooks.current, at(0));
    assert_eq!(webhooks.verify(&original, at(1)).await, Ok(()));
    let replayed = original.clone();
    assert_eq!(
        webhooks.verify(&replayed, at(window + 60)).await,
        Err(VerifyError::TimestampOutOfWindow)
    );
}

/// A request authenticated with a credential the store does not hold is
/// [`VerifyError::InvalidSignature`].
pub async fn verification_refuses_a_wrong_credential<S: Subject>() {
    if !verifies::<S>("verification_refuses_a_wrong_credential") {
        return;
    }
    let webhooks = Webhooks::<S>::start().await;
    let other = webhooks.subject.credential(2);
    assert_ne!(
        other.secret.expose_secret(),
        webhooks.current.secret.expose_secret(),
        "credential(2) must differ from credential(1)"
    );
    let wrong = webhooks.request(&other, at(0));
    assert_eq!(
        webhooks.verify(&wrong, at(0)).await,
        Err(VerifyError::InvalidSignature)
    );
}

/// A request without its credential is [`VerifyError::MissingCredential`].
pub async fn verification_refuses_a_missing_credential<S: Subject>() {
    if !verifies::<S>("verification_refuses_a_missing_credential") {
        return;
    }
    let webhooks = Webhooks::<S>::start().await;
    let good = webhooks.request(&webhooks.current, at(0));
    let missing = webhooks.subject.without_credential(&good);
    assert_ne!(
        missing, good,
        "without_credential did not change the request"
    );
    assert_eq!(
        webhooks.verify(&missing, at(0)).await,
        Err(VerifyError::MissingCredential)
    );
}

/// Credentials of the right length that differ from the right one only at their first byte, or
/// only at their last, are both refused: what a comparison that stops early would tell apart by
/// timing (this is no timing test: see
/// [`verification_compares_through_a_constant_time_function`] for how the comparison is made).
pub async fn verification_refuses_credentials_differing_at_the_first_or_the_last_byte<
    S: Subject,
>() {
    if !verifies::<S>("verification_refuses_credentials_differing_at_the_first_or_the_last_byte") {
        return;
    }
    let webhooks = Webhooks::<S>::start().await;
    let good = webhooks.request(&webhooks.current, at(0));
    let first = webhooks.subject.alter_credential(&good, Position::First);
    let last = webhooks.subject.alter_credential(&good, Position::Last);
    for (position, altered) in [("first", &first), ("last", &last)] {
        assert_ne!(*altered, good, "{position}: the request did not change");
        assert_eq!(
            altered.len(),
            good.len(),
            "{position}: the altered credential has another length"
        );
        assert_eq!(altered.body, good.body, "{position}: the body changed");
        assert_eq!(
            webhooks.verify(altered, at(0)).await,
            Err(VerifyError::InvalidSignature),
            "a credential differing at its {position} byte"
        );
    }
    assert_ne!(first, last, "the first and the last byte are the same byte");
}

/// The verifier's code compares through `providers::webhook::constant_time_eq` or `subtle`'s
/// `ct_eq`, and never with `==` or `!=` on a line that handles a secret, a signature, a token or a
/// credential. A reading of the source, not a proof: it catches the plain `==` a verifier drifts
/// to, not a comparison hidden in a helper elsewhere.
pub async fn verification_compares_through_a_constant_time_function<S: Subject>() {
    if !verifies::<S>("verification_compares_through_a_constant_time_function") {
        return;
    }
    let source = S::verifier_source();
    let code = source.split("#[cfg(test)]").next().unwrap_or(source);
    assert!(
        calls_a_constant_time_comparison(code),
        "the verifier's source calls neither providers::webhook::constant_time_eq nor subtle's ct_eq"
    );
    let offending = plain_comparisons_of_secrets(code);
    assert!(
        offending.is_empty(),
        "the verifier compares secret material with == or != (line, text): {offending:?}"
    );
}

/// Whether `code` calls `constant_time_eq` or `ct_eq`.
pub(crate) fn calls_a_constant_time_comparison(code: &str) -> bool {
    code.contains("constant_time_eq(") || code.contains("ct_eq(")
}

/// The lines of `code` (numbered from 1) that compare with `==` or `!=` while naming secret
/// material; comments are ignored.
pub(crate) fn plain_comparisons_of_secrets(code: &str) -> Vec<(usize, String)> {
    const SENSITIVE: [&str; 7] = [
        "secret",
        "signature",
        "token",
        "credential",
        "presented",
        "expected",
        "mac",
    ];
    code.lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.split("//").next().unwrap_or_default();
            let lowercase = code.to_ascii_lowercase();
            (code.contains("==") || code.contains("!="))
                && SENSITIVE.iter().any(|word| lowercase.contains(word))
        })
        .map(|(index, line)| (index + 1, line.trim().to_owned()))
        .collect()
}

/// During a rotation the credential being rotated out (`not_after` in the future) is accepted,
/// up to `not_after` included, next to the new one.
pub async fn verification_accepts_a_rotated_out_credential_until_not_after<S: Subject>() {
    if !verifies::<S>("verification_accepts_a_rotated_out_credential_until_not_after") {
        return;
    }
    let webhooks = Webhooks::<S>::start().await;
    let old = webhooks.subject.credential(3);
    webhooks.store.set(vec![
        webhooks.current.clone(),
        expiring(old.clone(), at(60)),
    ]);
    for seconds in [0, 30, 60] {
        let request = webhooks.request(&old, at(seconds));
        assert_eq!(
            webhooks.verify(&request, at(seconds)).await,
            Ok(()),
            "the old credential at t0 + {seconds} s, not_after t0 + 60 s"
        );
        let request = webhooks.request(&webhooks.current, at(seconds));
        assert_eq!(webhooks.verify(&request, at(seconds)).await, Ok(()));
    }
}

/// After its `not_after` the rotated-out credential is refused with
/// [`VerifyError::InvalidSignature`]; the new one still verifies.
pub async fn verification_refuses_a_rotated_out_credential_after_not_after<S: Subject>() {
    if !verifies::<S>("verification_refuses_a_rotated_out_credential_after_not_after") {
        return;
    }
    let webhooks = Webhooks::<S>::start().await;
    let old = webhooks.subject.credential(3);
    webhooks.store.set(vec![
        webhooks.current.clone(),
        expiring(old.clone(), at(60)),
    ]);
    let late = webhooks.request(&old, at(61));
    assert_eq!(
        webhooks.verify(&late, at(61)).await,
        Err(VerifyError::InvalidSignature),
        "the old credential one second after its not_after"
    );
    let new = webhooks.request(&webhooks.current, at(61));
    assert_eq!(webhooks.verify(&new, at(61)).await, Ok(()));
    webhooks.store.set(vec![expiring(old.clone(), at(60))]);
    let only_expired = webhooks.request(&old, at(61));
    assert!(
        webhooks.verify(&only_expired, at(61)).await.is_err(),
        "with nothing but an expired credential, a request signed with it is refused"
    );
}

/// A store that cannot answer makes verification [`VerifyError::Unavailable`] (the gateway
/// answers 503 so the provider retries), not a refusal of the sender.
pub async fn verification_reports_an_unavailable_credential_store<S: Subject>() {
    if !verifies::<S>("verification_reports_an_unavailable_credential_store") {
        return;
    }
    let webhooks = Webhooks::<S>::start().await;
    webhooks.store.set_down(true);
    let good = webhooks.request(&webhooks.current, at(0));
    let result = webhooks.verify(&good, at(0)).await;
    assert!(
        matches!(result, Err(VerifyError::Unavailable(_))),
        "{result:?}"
    );
    webhooks.store.set_down(false);
    assert_eq!(webhooks.verify(&good, at(0)).await, Ok(()));
}

/// Rejections change nothing: no call reaches the provider, the same rejected request gets the
/// same answer again, and the good request still verifies afterwards.
pub async fn verification_has_no_side_effects_on_rejection<S: Subject>() {
    if !verifies::<S>("verification_has_no_side_effects_on_rejection") {
        return;
    }
    let webhooks = Webhooks::<S>::start().await;
    let before = webhooks.subject.requests().await;
    let good = webhooks.request(&webhooks.current, at(0));
    let other = webhooks.subject.credential(2);
    let mut rejected = vec![
        webhooks.subject.without_credential(&good),
        webhooks.subject.alter_credential(&good, Position::First),
        webhooks.request(&other, at(0)),
    ];
    if authentication::<S>() == WebhookAuthentication::Signature {
        let mut changed = good.clone();
        changed.body.push(b' ');
        rejected.push(changed);
        rejected.push(webhooks.request(&webhooks.current, at(-3600)));
    }
    let mut first_answers = Vec::new();
    for request in &rejected {
        let answer = webhooks.verify(request, at(0)).await;
        assert!(answer.is_err(), "a request meant to be rejected verified");
        first_answers.push(answer);
    }
    for (request, first) in rejected.iter().zip(&first_answers) {
        assert_eq!(&webhooks.verify(request, at(0)).await, first);
    }
    assert_eq!(webhooks.verify(&good, at(0)).await, Ok(()));
    assert_eq!(
        webhooks.subject.requests().await,
        before,
        "verification called the provider's API"
    );
}

#[cfg(test)]
mod tests {
    use crate::checks::verification::{
        calls_a_constant_time_comparison, plain_comparisons_of_secrets,
    };

    #[test]
    fn a_constant_time_verifier_passes_the_reading() {
        let code = "let ok = constant_time_eq(presented.as_bytes(), expected.as_bytes());\n\
                    if version == \"v1\" { keep(ok) }\n\
                    // a comment saying signature == nothing";
        assert!(calls_a_constant_time_comparison(code));
        assert!(plain_comparisons_of_secrets(code).is_empty());
    }

    #[test]
    fn a_plain_equality_on_a_secret_is_reported_with_its_line() {
        let code =
            "let key = decode(secret);\nif presented_signature == expected { return Ok(()) }";
        assert!(!calls_a_constant_time_comparison(code));
        assert_eq!(
            plain_comparisons_of_secrets(code),
            [(
                2,
                "if presented_signature == expected { return Ok(()) }".to_owned()
            )]
        );
        let code = "if credential.secret.expose_secret() != token {}";
        assert_eq!(plain_comparisons_of_secrets(code).len(), 1);
    }
}
