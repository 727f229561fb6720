//! The NATS JetStream sink: every event is published to `paygate.events.<type>` for internal
//! consumers that prefer a stream to webhooks.
//!
//! Why it looks like this:
//! - The outbox row (`delivery` with `sink = 'jetstream'`) is marked done only after JetStream
//!   acknowledged storing the message, so [`JetStreamSink::publish`] awaits the publish ack: a
//!   fire-and-forget publish could be lost while the row says it was sent.
//! - A dispatcher can die between the ack and marking the row, and publish again. The event id is
//!   sent as `Nats-Msg-Id` and the stream keeps a duplicate window of [`DUPLICATE_WINDOW`], so the
//!   second publish is acknowledged as a duplicate and stored once.
//! - Connecting, stream management and publishing all have timeouts, so a NATS outage turns into
//!   retryable errors on the outbox row instead of a stuck dispatcher.
//! - The stream named by `jetstream.stream` is created when missing, and otherwise reused; if it
//!   does not capture `paygate.events.>` or its duplicate window is too short, it is updated to.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::config::JetStreamSettings;

/// Every subject the sink publishes to starts with this.
pub const SUBJECT_PREFIX: &str = "paygate.events.";

/// The subjects captured by the stream.
pub const STREAM_SUBJECTS: &str = "paygate.events.>";

/// How long JetStream remembers a `Nats-Msg-Id`: well over a claim timeout, so an event published
/// again by a dispatcher that took over a dead one's claim is still recognised.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// Smallest duplicate window accepted on an existing stream.
pub const MIN_DUPLICATE_WINDOW: Duration = Duration::from_secs(2 * 60);

/// Time allowed to connect to NATS.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Time allowed for one JetStream API request or one publish (until its ack).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to NATS with the stream ready to take events.
#[derive(Debug, Clone)]
pub struct JetStreamSink {
    context: jetstream::Context,
    stream: String,
}

/// Why connecting or publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum JetStreamError {
    /// `jetstream.url` is empty: the sink is disabled.
    #[error("the JetStream sink is not configured: `jetstream.url` is empty")]
    NotConfigured,
    /// The NATS server could not be reached.
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect {
        /// The configured URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The stream could not be created, read or updated.
    #[error("JetStream stream `{stream}` is unusable: {reason}")]
    Stream {
        /// The stream name.
        stream: String,
        /// What the server or client said.
        reason: String,
    },
    /// The event type cannot be a subject (empty token, whitespace or wildcard).
    #[error("event type `{event_type}` cannot be used as a NATS subject")]
    InvalidEventType {
        /// The event type.
        event_type: String,
    },
    /// The publish failed or was not acknowledged.
    #[error("publishing event {event_id} to {subject} failed: {reason}")]
    Publish {
        /// The subject.
        subject: String,
        /// The event id (`Nats-Msg-Id`).
        event_id: String,
        /// What went wrong.
        reason: String,
    },
    /// The server did not answer in time.
    #[error("JetStream did not answer within {seconds} s while {operation}")]
    Timeout {
        /// What was being done.
        operation: &'static str,
        /// The timeout.
        seconds: u64,
    },
}

impl JetStreamError {
    /// A stable `snake_case` code per variant.
    pub fn code(&self) -> &'static str {
        match self {
            JetStreamError::NotConfigured => "jetstream_not_configured",
            JetStreamError::Connect { .. } => "jetstream_unreachable",
            JetStreamError::Stream { .. } => "jetstream_stream_unusable",
            JetStreamError::InvalidEventType { .. } => "jetstream_invalid_subject",
            JetStreamError::Publish { .. } => "jetstream_publish_failed",
            JetStreamError::Timeout { .. } => "jetstream_timeout",
        }
    }

    /// Whether trying again later may succeed (an invalid subject never will).
    pub fn is_retryable(&self) -> bool {
        match self {
            JetStreamError::NotConfigured | JetStreamError::InvalidEventType { .. } => false,
            JetStreamError::Connect { .. }
            | JetStreamError::Stream { .. }
            | JetStreamError::Publish { .. }
            | JetStreamError::Timeout { .. } => true,
        }
    }
}

impl JetStreamSink {
    /// Connects to `settings.url` and makes sure the stream `settings.stream` exists, captures
    /// `paygate.events.>` and deduplicates message ids for at least [`MIN_DUPLICATE_WINDOW`].
    pub async fn connect(settings: &JetStreamSettings) -> Result<JetStreamSink, JetStreamError> {
        if settings.url.trim().is_empty() {
            return Err(JetStreamError::NotConfigured);
        }
        let connecting = async_nats::ConnectOptions::new()
            .name("paygate")
            .connection_timeout(CONNECT_TIMEOUT)
            .request_timeout(Some(REQUEST_TIMEOUT))
            .connect(settings.url.as_str());
        let client = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => {
                return Err(JetStreamError::Connect {
                    url: settings.url.clone(),
                    reason: error.to_string(),
                });
            }
            Err(_) => return Err(timeout("connecting", CONNECT_TIMEOUT)),
        };
        let mut context = jetstream::new(client);
        context.set_timeout(REQUEST_TIMEOUT);
        let sink = JetStreamSink {
            context,
            stream: settings.stream.clone(),
        };
        within("preparing the stream", sink.ensure_stream()).await??;
        Ok(sink)
    }

    /// The stream events are stored in.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// Publishes `payload` to `paygate.events.<event_type>` with `Nats-Msg-Id: <event_id>` and
    /// waits for JetStream's ack. A publish of an event id already stored within the duplicate
    /// window is acknowledged without storing a second message, so it is `Ok` too.
    pub async fn publish(
        &self,
        event_type: &str,
        event_id: &str,
        payload: Vec<u8>,
    ) -> Result<(), JetStreamError> {
        if !is_valid_subject_tail(event_type) {
            return Err(JetStreamError::InvalidEventType {
                event_type: event_type.to_owned(),
            });
        }
        let subject = format!("{SUBJECT_PREFIX}{event_type}");
        let failed = |reason: String| JetStreamError::Publish {
            subject: subject.clone(),
            event_id: event_id.to_owned(),
            reason,
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, event_id);
        let pending = within(
            "publishing",
            self.context
                .publish_with_headers(subject.clone(), headers, payload.into()),
        )
        .await?
        .map_err(|error| failed(error.to_string()))?;
        let ack = within("awaiting the publish ack", pending)
            .await?
            .map_err(|error| failed(error.to_string()))?;
        if ack.stream != self.stream {
            tracing::warn!(
                expected = %self.stream,
                stored_in = %ack.stream,
                "event stored in another stream capturing its subject"
            );
        }
        Ok(())
    }

    async fn ensure_stream(&self) -> Result<(), JetStreamError> {
        let unusable = |reason: String| JetStreamError::Stream {
            stream: self.stream.clone(),
            reason,
        };
        let wanted = stream::Config {
            name: self.stream.clone(),
            subjects: vec![STREAM_SUBJECTS.to_owned()],
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        };
        let existing = self
            .context
            .get_or_create_stream(wanted)
            .await
            .map_err(|error| unusable(error.to_string()))?;
        let config = &existing.cached_info().config;
        let captures = config
            .subjects
            .iter()
            .any(|subject| subject == STREAM_SUBJECTS);
        if captures && config.duplicate_window >= MIN_DUPLICATE_WINDOW {
            return Ok(());
        }
        let mut updated = config.clone();
        if !captures {
            updated.subjects.push(STREAM_SUBJECTS.to_owned());
        }
        if updated.duplicate_window < MIN_DUPLICATE_WINDOW {
            updated.duplicate_window = DUPLICATE_WINDOW;
        }
        self.context
            .update_stream(updated)
            .await
            .map_err(|error| unusable(error.to_string()))?;
        tracing::info!(stream = %self.stream, "JetStream stream updated to capture paygate events");
        Ok(())
    }
}

/// Runs `future` with [`REQUEST_TIMEOUT`].
async fn within<F: std::future::IntoFuture>(
    operation: &'static str,
    future: F,
) -> Result<F::Output, JetStreamError> {
    tokio::time::timeout(REQUEST_TIMEOUT, future)
        .await
        .map_err(|_| timeout(operation, REQUEST_TIMEOUT))
}

fn timeout(operation: &'static str, limit: Duration) -> JetStreamError {
    JetStreamError::Timeout {
        operation,
        seconds: limit.as_secs(),
    }
}

/// Whether `tail` can follow `paygate.events.`: dot-separated non-empty tokens with no whitespace
/// and no wildcards.
fn is_valid_subject_tail(tail: &str) -> bool {
    !tail.is_empty()
        && tail.split('.').all(|token| {
            !token.is_empty()
                && token
                    .bytes()
                    .all(|byte| byte.is_ascii_graphic() && byte != b'*' && byte != b'>')
        })
}

#[cfg(test)]
mod tests {
    use std::panic::AssertUnwindSafe;
    use std::time::Duration;

    use async_nats::jetstream;
    use futures::FutureExt;

    use crate::config::JetStreamSettings;
    use crate::delivery::jetstream::{
        JetStreamError, JetStreamSink, STREAM_SUBJECTS, is_valid_subject_tail,
    };

    /// The NATS server the tests use (started by the machine's service; CI has one).
    const NATS_URL: &str = "nats://127.0.0.1:4222";

    /// Test streams are named with this prefix; ones older than [`STALE_AFTER`] are leftovers of
    /// runs that crashed before cleaning up, and are deleted.
    const TEST_STREAM_PREFIX: &str = "PAYGATE_TEST_";
    const STALE_AFTER: Duration = Duration::from_secs(15 * 60);

    #[test]
    fn event_types_that_are_not_subject_tokens_are_refused() {
        for good in ["loan.active", "pix.received", "a", "charge.paid_v2"] {
            assert!(is_valid_subject_tail(good), "{good}");
        }
        for bad in [
            "",
            "loan..active",
            ".loan",
            "loan.",
            "loan.*",
            "loan.>",
            "pix received",
        ] {
            assert!(!is_valid_subject_tail(bad), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn an_empty_url_means_the_sink_is_not_configured() {
        let error = JetStreamSink::connect(&JetStreamSettings {
            url: String::new(),
            stream: "X".into(),
        })
        .await
        .unwrap_err();
        assert!(matches!(error, JetStreamError::NotConfigured), "{error}");
        assert!(!error.is_retryable());
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_retryable_connect_error() {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let error = JetStreamSink::connect(&JetStreamSettings {
            url: "nats://127.0.0.1:1".into(),
            stream: "X".into(),
        })
        .await
        .unwrap_err();
        assert!(
            matches!(
                error,
                JetStreamError::Connect { .. } | JetStreamError::Timeout { .. }
            ),
            "{error}"
        );
        assert!(error.is_retryable());
    }

    #[tokio::test]
    async fn events_are_stored_once_per_event_id_under_their_type_subject() {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(NATS_URL)
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "the JetStream tests need a NATS server with JetStream at {NATS_URL} \
                     (e.g. `nats-server -js`): {error}"
                )
            });
        let admin = jetstream::new(client);
        delete_stale_test_streams(&admin).await;
        let stream = format!("{TEST_STREAM_PREFIX}{}", uuid::Uuid::now_v7().simple());
        wait_until_the_subjects_are_free(&admin).await;

        let outcome = AssertUnwindSafe(check_dedup_and_subjects(&admin, &stream))
            .catch_unwind()
            .await;

        // Clean up whatever happened: the stream captures `paygate.events.>`, which no other
        // stream may capture while it exists.
        let _ = admin.delete_stream(&stream).await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    async fn check_dedup_and_subjects(admin: &jetstream::Context, stream: &str) {
        let sink = JetStreamSink::connect(&JetStreamSettings {
            url: NATS_URL.into(),
            stream: stream.to_owned(),
        })
        .await
        .unwrap();
        let run = uuid::Uuid::now_v7().simple().to_string();
        let first_id = format!("evt_{run}_1");
        let second_id = format!("evt_{run}_2");

        sink.publish("loan.active", &first_id, b"{\"n\":1}".to_vec())
            .await
            .unwrap();
        sink.publish("loan.active", &first_id, b"{\"n\":1}".to_vec())
            .await
            .unwrap();
        sink.publish("pix.received", &second_id, b"{\"n\":2}".to_vec())
            .await
            .unwrap();

        let mut handle = admin.get_stream(stream).await.unwrap();
        let info = handle.info().await.unwrap().clone();
        assert_eq!(
            info.state.messages, 2,
            "the duplicate publish is stored once"
        );
        assert_eq!(info.config.subjects, vec![STREAM_SUBJECTS.to_owned()]);
        assert!(info.config.duplicate_window >= Duration::from_secs(120));

        let first = handle.get_raw_message(1).await.unwrap();
        assert_eq!(first.subject.as_str(), "paygate.events.loan.active");
        assert_eq!(
            first
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|value| value.as_str()),
            Some(first_id.as_str())
        );
        assert_eq!(first.payload.as_ref(), b"{\"n\":1}");
        let second = handle.get_raw_message(2).await.unwrap();
        assert_eq!(second.subject.as_str(), "paygate.events.pix.received");

        // Connecting again reuses the stream and its messages.
        let again = JetStreamSink::connect(&JetStreamSettings {
            url: NATS_URL.into(),
            stream: stream.to_owned(),
        })
        .await
        .unwrap();
        again
            .publish("pix.received", &second_id, b"{\"n\":2}".to_vec())
            .await
            .unwrap();
        let info = handle.info().await.unwrap();
        assert_eq!(info.state.messages, 2);
    }

    async fn delete_stale_test_streams(admin: &jetstream::Context) {
        use futures::TryStreamExt;

        let streams: Vec<_> = admin.streams().try_collect().await.unwrap();
        let now = std::time::SystemTime::now();
        for info in streams {
            let created: std::time::SystemTime = info.created.into();
            let age = now.duration_since(created).unwrap_or_default();
            if info.config.name.starts_with(TEST_STREAM_PREFIX) && age > STALE_AFTER {
                let _ = admin.delete_stream(&info.config.name).await;
            }
        }
    }

    /// Another test run may hold a stream capturing `paygate.events.>`; wait (bounded) for it to
    /// finish, and name the stream in the failure otherwise.
    async fn wait_until_the_subjects_are_free(admin: &jetstream::Context) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let holder = admin.stream_by_subject("paygate.events.test").await.ok();
            let Some(holder) = holder else {
                return;
            };
            assert!(
                tokio::time::Instant::now() < deadline,
                "stream `{holder}` already captures {STREAM_SUBJECTS} on {NATS_URL}; \
                 delete it (or wait for the run using it) before running this test"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
