//! Webhook endpoints and API credentials at Dinie, and the gateway's self-registration.

use std::time::Duration;

use dinie::DinieWebhookRegistration;
use dinie::model::{CredentialStatus, EndpointStatus, NewWebhookEndpoint, WebhookEndpointUpdate};
use futures::TryStreamExt;
use providers::{ProviderError, WebhookRegistration};

use crate::{key, setup};

#[tokio::test]
async fn endpoints_can_be_created_listed_updated_rotated_and_deleted() {
    let setup = setup().await;
    let created = setup
        .client
        .create_webhook_endpoint(
            &NewWebhookEndpoint {
                url: "https://partner.example/webhooks".into(),
                events: vec!["loan.*".into()],
                description: Some("loans".into()),
            },
            &key(),
        )
        .await
        .unwrap();
    assert!(created.secret.expose_secret().starts_with("whsec_"));

    let listed: Vec<_> = setup
        .client
        .list_webhook_endpoints()
        .try_collect()
        .await
        .unwrap();
    let updated = setup
        .client
        .update_webhook_endpoint(
            &created.endpoint.id,
            &WebhookEndpointUpdate {
                status: Some(EndpointStatus::Disabled),
                ..WebhookEndpointUpdate::default()
            },
        )
        .await
        .unwrap();
    let rotated = setup
        .client
        .rotate_webhook_secret(&created.endpoint.id, Duration::from_secs(600), &key())
        .await
        .unwrap();
    setup
        .client
        .delete_webhook_endpoint(&created.endpoint.id)
        .await
        .unwrap();
    let gone = setup
        .client
        .get_webhook_endpoint(&created.endpoint.id)
        .await
        .unwrap_err();

    assert_eq!(listed, std::slice::from_ref(&created.endpoint));
    assert_eq!(updated.status, EndpointStatus::Disabled);
    assert_ne!(
        rotated.secret.expose_secret(),
        created.secret.expose_secret()
    );
    let grace = rotated.previous_secret_expires_at.unwrap() - chrono::Utc::now();
    assert!(grace > chrono::Duration::seconds(590) && grace <= chrono::Duration::seconds(600));
    assert!(matches!(gone, ProviderError::NotFound { .. }));
}

#[tokio::test]
async fn an_http_url_outside_loopback_is_refused() {
    let setup = setup().await;
    let error = setup
        .client
        .create_webhook_endpoint(
            &NewWebhookEndpoint {
                url: "http://partner.example/webhooks".into(),
                events: Vec::new(),
                description: None,
            },
            &key(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ProviderError::Rejected { code, .. } if code == "invalid_url"),
        "{error:?}"
    );
}

#[tokio::test]
async fn registration_creates_the_endpoint_once_and_a_second_registration_rotates_it() {
    let setup = setup().await;
    let registration = DinieWebhookRegistration::new(setup.client.clone());

    let first = registration.register("http://127.0.0.1:9/").await.unwrap();
    let second = registration.register("http://127.0.0.1:9").await.unwrap();

    assert_eq!(first.len(), 1);
    assert_eq!(first[0].url, "http://127.0.0.1:9/webhooks/dinie");
    assert_eq!(first[0].path, "");
    assert_eq!(first[0].previous_secret_expires_at, None);
    assert_eq!(second[0].registration_id, first[0].registration_id);
    assert_ne!(
        second[0].secret.expose_secret(),
        first[0].secret.expose_secret()
    );
    assert!(second[0].previous_secret_expires_at.is_some());
    let endpoints: Vec<_> = setup
        .client
        .list_webhook_endpoints()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0].events, ["*"]);

    let rotated = registration
        .rotate(&first[0].registration_id, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(rotated.url, first[0].url);
    let grace = rotated.previous_secret_expires_at.unwrap() - chrono::Utc::now();
    assert!(grace <= chrono::Duration::seconds(120) && grace > chrono::Duration::seconds(110));
}

#[tokio::test]
async fn api_credentials_can_be_created_used_listed_and_revoked() {
    let setup = setup().await;
    let created = setup
        .client
        .create_credential("Reconciliation job", None, &key())
        .await
        .unwrap();
    let mut other_config = crate::config_for(&setup.sim);
    other_config.client_id = created.credential.client_id.clone();
    other_config.client_secret = created.client_secret.clone();
    let other = dinie::DinieClient::new(&other_config).unwrap();
    other.get_customer("cust_x").await.unwrap_err();

    setup
        .client
        .revoke_credential(&created.credential.client_id)
        .await
        .unwrap();
    let twice = setup
        .client
        .revoke_credential(&created.credential.client_id)
        .await
        .unwrap_err();
    let listed: Vec<_> = setup.client.list_credentials().try_collect().await.unwrap();

    assert!(matches!(twice, ProviderError::Conflict { .. }), "{twice:?}");
    let revoked = listed
        .iter()
        .find(|credential| credential.client_id == created.credential.client_id)
        .unwrap();
    assert_eq!(revoked.status, CredentialStatus::Revoked);
    assert!(revoked.last_used_at.is_some());
    let fresh = dinie::DinieClient::new(&other_config).unwrap();
    assert!(matches!(
        fresh.get_customer("cust_x").await.unwrap_err(),
        ProviderError::Unauthorized { .. }
    ));
}

#[tokio::test]
async fn a_biometrics_session_is_one_at_a_time() {
    let setup = setup().await;
    let customer = setup
        .client
        .create_customer(&crate::new_customer(1, "user-1"), &key())
        .await
        .unwrap();
    let session = setup
        .client
        .create_biometrics_session(&customer.id, &key())
        .await
        .unwrap();
    let again = setup
        .client
        .create_biometrics_session(&customer.id, &key())
        .await
        .unwrap_err();
    assert!(session.session_url.starts_with("https://"));
    assert!(
        matches!(&again, ProviderError::Conflict { code, .. } if code == "session_already_active")
    );
}
