//! Lists are streams that follow `starting_after` until `has_more` is false.

use dinie::model::CustomerFilter;
use futures::{StreamExt, TryStreamExt};
use std::collections::HashSet;

use crate::{key, new_customer, recorded, setup};

#[tokio::test]
async fn a_list_longer_than_a_page_is_followed_to_its_end() {
    let setup = setup().await;
    let mut created = HashSet::new();
    for seed in 0..130 {
        let customer = setup
            .client
            .create_customer(&new_customer(seed, &format!("user-{seed}")), &key())
            .await
            .unwrap();
        created.insert(customer.id);
    }

    let listed: Vec<String> = setup
        .client
        .list_customers(&CustomerFilter::default())
        .map_ok(|customer| customer.id)
        .try_collect()
        .await
        .unwrap();

    assert_eq!(listed.len(), 130);
    assert_eq!(listed.iter().cloned().collect::<HashSet<_>>(), created);
    assert_eq!(recorded(&setup.sim, "GET", "/customers").await.len(), 2);
}

#[tokio::test]
async fn a_stream_is_lazy_and_stops_when_the_caller_does() {
    let setup = setup().await;
    for seed in 0..3 {
        setup
            .client
            .create_customer(&new_customer(seed, &format!("user-{seed}")), &key())
            .await
            .unwrap();
    }
    let first: Vec<_> = setup
        .client
        .list_customers(&CustomerFilter::default())
        .take(1)
        .collect()
        .await;
    assert_eq!(first.len(), 1);
    let filtered: Vec<_> = setup
        .client
        .list_customers(&CustomerFilter {
            external_id: Some("user-2".into()),
            ..CustomerFilter::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0].external_id.as_deref(), Some("user-2"));
}

#[tokio::test]
async fn one_page_at_a_time_gives_a_cursor_for_the_next() {
    let setup = setup().await;
    for seed in 0..5 {
        setup
            .client
            .create_customer(&new_customer(seed, &format!("user-{seed}")), &key())
            .await
            .unwrap();
    }
    let filter = CustomerFilter::default();
    let first = setup.client.customers_page(&filter, 3, None).await.unwrap();
    let cursor = first.next_cursor.clone().unwrap();
    let second = setup
        .client
        .customers_page(&filter, 3, Some(&cursor))
        .await
        .unwrap();

    assert_eq!(first.items.len(), 3);
    assert_eq!(second.items.len(), 2);
    assert_eq!(second.next_cursor, None);
    assert_eq!(cursor, first.items[2].id);
}
