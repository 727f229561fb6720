//! The shared OAuth2 token: single flight, proactive renewal, reactive renewal on 401.

use std::time::Duration;

use dinie_sim::SimConfig;
use futures::future::join_all;
use providers::ProviderError;

use crate::{key, let_time_pass, new_customer, recorded, setup, setup_with};

#[tokio::test]
async fn a_hundred_concurrent_callers_across_an_expiry_cause_one_token_request_each_time() {
    let setup = setup_with(
        SimConfig {
            token_lifetime: Duration::from_secs(1),
            ..SimConfig::fast()
        },
        |_| {},
    )
    .await;
    // The client has no token yet: 100 callers start together.
    let calls = (0..100).map(|_| setup.client.get_customer("cust_none"));
    let results = join_all(calls).await;
    assert!(
        results
            .iter()
            .all(|result| matches!(result, Err(ProviderError::NotFound { .. })))
    );
    assert_eq!(setup.sim.token_requests(), 1);

    // Past 80% of the token's one-second life, 100 callers again: one renewal.
    let_time_pass(Duration::from_millis(850)).await;
    let calls = (0..100).map(|_| setup.client.get_customer("cust_none"));
    join_all(calls).await;
    assert_eq!(setup.sim.token_requests(), 2);
    let unauthorized = setup
        .sim
        .requests()
        .await
        .iter()
        .filter(|request| request.status == 401)
        .count();
    assert_eq!(unauthorized, 0, "no call went out with an expired token");
}

#[tokio::test]
async fn a_token_is_reused_while_it_is_fresh() {
    let setup = setup().await;
    for seed in 0..5 {
        setup
            .client
            .create_customer(&new_customer(seed, &format!("user-{seed}")), &key())
            .await
            .unwrap();
    }
    assert_eq!(setup.sim.token_requests(), 1);
}

#[tokio::test]
async fn a_401_token_expired_renews_the_token_once_and_repeats_the_call() {
    let setup = setup().await;
    let created = setup
        .client
        .create_customer(&new_customer(1, "user-1"), &key())
        .await
        .unwrap();
    setup.sim.expire_tokens().await;

    let fetched = setup.client.get_customer(&created.id).await.unwrap();

    assert_eq!(fetched.id, created.id);
    assert_eq!(setup.sim.token_requests(), 2);
    let statuses: Vec<u16> = recorded(&setup.sim, "GET", &format!("/customers/{}", created.id))
        .await
        .iter()
        .map(|request| request.status)
        .collect();
    assert_eq!(statuses, [401, 200]);
}

#[tokio::test]
async fn wrong_client_credentials_are_unauthorized() {
    let setup = setup_with(SimConfig::fast(), |config| {
        config.client_secret = "dinie_cs_test_wrong".to_owned().into();
    })
    .await;
    let error = setup.client.get_customer("cust_x").await.unwrap_err();
    assert!(
        matches!(&error, ProviderError::Unauthorized { message } if message.contains("invalid_credentials")),
        "{error:?}"
    );
    assert_eq!(
        setup.sim.token_requests(),
        1,
        "a 401 on the token is not retried"
    );
}
