//! Normalization: every documented payload gives its documented events, with exact money and the
//! resource id; an unknown type is kept as `<provider>.unrecognized`; a redelivery keeps its dedup
//! key; the same bytes give the same events.

use providers::{Money, NormalizedEvent};

use crate::checks::{Webhooks, at, authentication};
use crate::subject::{ExpectedEvent, Fixture, Subject};

/// The events of `fixture`, verified first (each fixture's request must verify, whatever its
/// path), then normalized.
async fn normalize<S: Subject>(
    webhooks: &Webhooks<S>,
    fixture: &Fixture,
    seconds: i64,
) -> Vec<NormalizedEvent> {
    let request = webhooks
        .subject
        .request(&fixture.delivery, &webhooks.current, at(seconds));
    if authentication::<S>() != providers::WebhookAuthentication::None {
        assert_eq!(
            webhooks.verify(&request, at(seconds)).await,
            Ok(()),
            "{}: the fixture's request does not verify",
            fixture.name
        );
    }
    match webhooks.source.normalize(&request.inbound()) {
        Ok(events) => events,
        Err(error) => panic!("{}: {error}", fixture.name),
    }
}

fn check_event(fixture: &str, index: usize, event: &NormalizedEvent, expected: &ExpectedEvent) {
    let name = format!("{fixture} (event {index})");
    assert_eq!(event.event_type.as_str(), expected.event_type, "{name}");
    assert_eq!(
        event.resource.id, expected.resource_id,
        "{name}: resource id"
    );
    assert!(
        event
            .event_type
            .resource_kinds()
            .contains(&event.resource.kind),
        "{name}: a {} event about a {:?}, which EventType::resource_kinds does not allow",
        expected.event_type,
        event.resource.kind
    );
    let data = event.data.to_json();
    for (pointer, decimal) in &expected.amounts {
        let Some(value) = data.pointer(pointer) else {
            panic!("{name}: no {pointer} in the event's data");
        };
        let money: Money = match serde_json::from_value(value.clone()) {
            Ok(money) => money,
            Err(error) => panic!("{name}: {pointer} is not money: {error}"),
        };
        assert_eq!(
            money.amount().to_string(),
            *decimal,
            "{name}: {pointer} is not exactly the amount sent"
        );
    }
}

/// Every fixture verifies and gives exactly its documented events: type, resource id (of a kind
/// the type allows) and exact amounts.
pub async fn normalization_gives_every_fixture_its_type_amounts_and_resource<S: Subject>() {
    let webhooks = Webhooks::<S>::start().await;
    let fixtures = webhooks.subject.fixtures();
    assert!(!fixtures.is_empty(), "the subject lists no fixture");
    for fixture in &fixtures {
        let events = normalize(&webhooks, fixture, 0).await;
        assert_eq!(
            events.len(),
            fixture.events.len(),
            "{}: number of events",
            fixture.name
        );
        for (index, (event, expected)) in events.iter().zip(&fixture.events).enumerate() {
            check_event(&fixture.name, index, event, expected);
        }
    }
}

/// A type the provider does not document is kept, as `<provider>.unrecognized`, never dropped:
/// at least one fixture must be one.
pub async fn normalization_keeps_an_unknown_type_as_unrecognized<S: Subject>() {
    let webhooks = Webhooks::<S>::start().await;
    let unrecognized = format!("{}.unrecognized", S::description().name);
    let fixtures: Vec<Fixture> = webhooks
        .subject
        .fixtures()
        .into_iter()
        .filter(|fixture| {
            fixture
                .events
                .iter()
                .any(|event| event.event_type == unrecognized)
        })
        .collect();
    assert!(
        !fixtures.is_empty(),
        "no fixture of a type the provider does not document (expected as {unrecognized})"
    );
    for fixture in &fixtures {
        let events = normalize(&webhooks, fixture, 0).await;
        assert!(!events.is_empty(), "{}: dropped", fixture.name);
        let kept: Vec<&NormalizedEvent> = events
            .iter()
            .filter(|event| event.event_type.is_unrecognized())
            .collect();
        assert!(!kept.is_empty(), "{}: no unrecognized event", fixture.name);
        for event in kept {
            assert_eq!(event.event_type.as_str(), unrecognized, "{}", fixture.name);
            assert!(
                !event.provider_event_type.is_empty(),
                "{}: the provider's own type is not kept",
                fixture.name
            );
        }
    }
}

/// The same delivery sent again later (the same id, path and bytes, authenticated anew) gives the
/// same dedup keys.
pub async fn normalization_gives_a_redelivery_the_same_dedup_key<S: Subject>() {
    let webhooks = Webhooks::<S>::start().await;
    for fixture in webhooks.subject.fixtures() {
        let first = normalize(&webhooks, &fixture, 0).await;
        let again = normalize(&webhooks, &fixture, 120).await;
        let keys = |events: &[NormalizedEvent]| -> Vec<String> {
            events
                .iter()
                .map(|event| event.dedup_key.as_str().to_owned())
                .collect()
        };
        assert_eq!(keys(&first), keys(&again), "{}", fixture.name);
    }
}

/// Normalizing the same request twice, or with a second source, gives equal events.
pub async fn normalization_is_deterministic<S: Subject>() {
    let webhooks = Webhooks::<S>::start().await;
    let other = webhooks.subject.webhook_source(
        crate::subject::TestCredentials::holding(Vec::new()),
        crate::checks::TOLERANCE,
    );
    for fixture in webhooks.subject.fixtures() {
        let request = webhooks
            .subject
            .request(&fixture.delivery, &webhooks.current, at(0));
        let inbound = request.inbound();
        let first = webhooks.source.normalize(&inbound);
        let second = webhooks.source.normalize(&inbound);
        let elsewhere = other.normalize(&inbound);
        assert!(first == second, "{}: two runs differ", fixture.name);
        assert!(first == elsewhere, "{}: two sources differ", fixture.name);
    }
}
