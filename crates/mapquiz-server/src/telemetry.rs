//! Logs, on standard error (standard output is the commands' own output): human-readable in development,
//! JSON in production; `RUST_LOG` overrides the configured filter. With the `otel` feature and
//! `otel_enabled`, the same spans are also exported to an OpenTelemetry collector over OTLP/HTTP.

#[cfg(feature = "otel")]
mod otlp;

use crate::config::{LogConfig, LogFormat, OtlpConfig};
use std::io::IsTerminal as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// What must outlive the program's work: the trace exporter, flushed by [`Telemetry::shutdown`].
#[must_use]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes the spans not yet exported (bounded by the exporter's own timeout).
    pub fn shutdown(self) {
        #[cfg(feature = "otel")]
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            tracing::warn!(error = %e, "cannot flush the trace exporter");
        }
    }
}

/// Installs the global subscriber (and the OTLP exporter when `otlp` is given).
pub fn init(log: &LogConfig, otlp: Option<&OtlpConfig>) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(&log.level))?;
    #[cfg(feature = "otel")]
    let (export, provider) = match otlp {
        Some(config) => {
            let (layer, provider) = otlp::layer(config)?;
            (Some(layer), Some(provider))
        }
        None => (None, None),
    };
    // Validation refuses `otel_enabled` in a build without the feature; nothing to export here.
    #[cfg(not(feature = "otel"))]
    let export: Option<tracing_subscriber::layer::Identity> = otlp.and(None);
    let registry = tracing_subscriber::registry().with(filter).with(export);
    match log.format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init()?,
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    // Colour codes only for a terminal: a log file or collector gets plain text.
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init()?,
    }
    Ok(Telemetry {
        #[cfg(feature = "otel")]
        provider,
    })
}
