//! The OAuth2 client-credentials token, shared by every caller of one client.
//!
//! [`TokenCache::token`] holds an async mutex while it fetches, so callers that arrive while a
//! token is being fetched wait for that one instead of asking for their own: however many callers
//! cross an expiry, Dinie sees one token request (single flight). A token is renewed once 80% of
//! its lifetime has passed, ahead of its expiry; a renewal that fails while the old token is still
//! valid keeps using the old one. [`TokenCache::invalidate`] drops a token Dinie refused
//! (`401 token_expired`), but only if no other caller replaced it meanwhile.

use std::future::Future;
use std::time::Duration;

use providers::ProviderError;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A token as Dinie issued it.
pub(crate) struct IssuedToken {
    pub(crate) value: SecretString,
    pub(crate) expires_in: Duration,
}

struct CachedToken {
    value: SecretString,
    renew_at: Instant,
    expires_at: Instant,
}

/// The token shared by every caller of a client.
#[derive(Default)]
pub(crate) struct TokenCache {
    current: Mutex<Option<CachedToken>>,
}

/// When a token obtained at `obtained` and valid for `expires_in` should be renewed: after 80% of
/// its lifetime (integer arithmetic, no floats).
pub(crate) fn renew_at(obtained: Instant, expires_in: Duration) -> Instant {
    obtained + expires_in * 4 / 5
}

impl TokenCache {
    /// The current token, fetched with `fetch` when there is none or it is due for renewal.
    pub(crate) async fn token<F, Fut>(&self, fetch: F) -> Result<SecretString, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<IssuedToken, ProviderError>>,
    {
        let mut current = self.current.lock().await;
        let now = Instant::now();
        if let Some(cached) = current.as_ref()
            && now < cached.renew_at
        {
            return Ok(cached.value.clone());
        }
        match fetch().await {
            Ok(issued) => {
                let obtained = Instant::now();
                let value = issued.value.clone();
                *current = Some(CachedToken {
                    value: issued.value,
                    renew_at: renew_at(obtained, issued.expires_in),
                    expires_at: obtained + issued.expires_in,
                });
                Ok(value)
            }
            Err(error) => match current.as_ref() {
                Some(cached) if Instant::now() < cached.expires_at => {
                    tracing::warn!(error.message = %error, "renewing the Dinie token failed; the current one is still valid");
                    Ok(cached.value.clone())
                }
                _ => Err(error),
            },
        }
    }

    /// Forgets `rejected` if it is still the current token, so the next caller fetches a new one.
    pub(crate) async fn invalidate(&self, rejected: &SecretString) {
        let mut current = self.current.lock().await;
        if current
            .as_ref()
            .is_some_and(|cached| cached.value.expose_secret() == rejected.expose_secret())
        {
            *current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use providers::ProviderError;
    use secrecy::{ExposeSecret, SecretString};
    use tokio::time::Instant;

    use crate::oauth::{IssuedToken, TokenCache, renew_at};

    #[test]
    fn a_token_is_renewed_after_eighty_percent_of_its_life() {
        let obtained = Instant::now();
        assert_eq!(
            renew_at(obtained, Duration::from_secs(3600)) - obtained,
            Duration::from_secs(2880)
        );
        assert_eq!(
            renew_at(obtained, Duration::from_secs(1)) - obtained,
            Duration::from_millis(800)
        );
        assert_eq!(renew_at(obtained, Duration::ZERO), obtained);
    }

    fn issuer(
        count: Arc<AtomicU32>,
        lifetime: Duration,
    ) -> impl Fn() -> std::future::Ready<Result<IssuedToken, ProviderError>> {
        move || {
            let n = count.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(IssuedToken {
                value: SecretString::from(format!("dinie_at_{n}")),
                expires_in: lifetime,
            }))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_cached_token_is_reused_until_it_is_due_for_renewal() {
        let cache = TokenCache::default();
        let count = Arc::new(AtomicU32::new(0));
        let fetch = issuer(count.clone(), Duration::from_secs(100));
        let first = cache.token(&fetch).await.unwrap();
        tokio::time::advance(Duration::from_secs(79)).await;
        let second = cache.token(&fetch).await.unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        tokio::time::advance(Duration::from_secs(2)).await;
        let third = cache.token(&fetch).await.unwrap();
        assert_eq!(third.expose_secret(), "dinie_at_1");
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_renewal_keeps_the_still_valid_token_but_not_an_expired_one() {
        let cache = TokenCache::default();
        let count = Arc::new(AtomicU32::new(0));
        cache
            .token(issuer(count, Duration::from_secs(100)))
            .await
            .unwrap();
        let failing = || {
            std::future::ready(Err(ProviderError::Unavailable {
                status: Some(503),
                message: "down".into(),
            }))
        };
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(
            cache.token(failing).await.unwrap().expose_secret(),
            "dinie_at_0"
        );
        tokio::time::advance(Duration::from_secs(20)).await;
        assert!(cache.token(failing).await.is_err());
    }

    #[tokio::test]
    async fn invalidating_drops_only_the_rejected_token() {
        let cache = TokenCache::default();
        let count = Arc::new(AtomicU32::new(0));
        let fetch = issuer(count.clone(), Duration::from_secs(100));
        let first = cache.token(&fetch).await.unwrap();
        cache
            .invalidate(&SecretString::from("dinie_at_other".to_owned()))
            .await;
        assert_eq!(
            cache.token(&fetch).await.unwrap().expose_secret(),
            first.expose_secret()
        );
        cache.invalidate(&first).await;
        assert_eq!(
            cache.token(&fetch).await.unwrap().expose_secret(),
            "dinie_at_1"
        );
    }
}
