//! Capturing the gateway's log output in memory, formatted by the gateway's own layer.

use std::io::Write;
use std::sync::{Arc, Mutex};

use gateway::config::LogFormat;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// A shared in-memory log sink.
#[derive(Clone, Default)]
pub struct CapturedLogs {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl CapturedLogs {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().expect("log buffer poisoned")).into_owned()
    }

    /// A subscriber that logs everything (TRACE) through the gateway's formatting layer into this
    /// sink; install it with `tracing::subscriber::set_default` on a current-thread runtime so every
    /// task of the test is captured.
    pub fn subscriber(&self, format: LogFormat) -> impl tracing::Subscriber + Send + Sync + use<> {
        tracing_subscriber::registry()
            .with(gateway::telemetry::fmt_layer(format, self.clone()))
            .with(tracing_subscriber::filter::LevelFilter::TRACE)
    }
}

/// One write handle on the sink.
pub struct Writer {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl Write for Writer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer
            .lock()
            .expect("log buffer poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = Writer;

    fn make_writer(&'a self) -> Writer {
        Writer {
            buffer: self.buffer.clone(),
        }
    }
}
