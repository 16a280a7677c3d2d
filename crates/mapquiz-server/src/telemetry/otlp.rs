//! The OpenTelemetry layer: spans exported in batches over OTLP/HTTP (protobuf) from the exporter's own
//! thread, sampled by ratio at the root and following the parent's decision below it.

use crate::config::OtlpConfig;
use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, Tracer};
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

/// The layer to install and the provider to flush at exit.
pub fn layer<S>(config: &OtlpConfig) -> anyhow::Result<(OpenTelemetryLayer<S, Tracer>, SdkTracerProvider)>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(config.endpoint.as_str())
        .build()
        .context("cannot build the OTLP exporter")?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(config.sample_ratio))))
        .with_resource(Resource::builder().with_service_name(config.service_name.clone()).build())
        .build();
    let tracer = provider.tracer("mapquiz-server");
    Ok((tracing_opentelemetry::layer().with_tracer(tracer), provider))
}
