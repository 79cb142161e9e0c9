import { Resource } from '@opentelemetry/resources';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';

let tracingRegistered = false;

/** A tracing setup: the Temporal plugin for clients and workers, and how to flush it. */
export interface Tracing {
  plugin: OpenTelemetryPlugin;
  /** Exports buffered spans and stops the exporter. */
  shutdown(): Promise<void>;
}

/**
 * OpenTelemetry tracing through Temporal's interceptors: spans for starting workflows (API),
 * running workflows and activities (worker), propagated across them, exported by OTLP/HTTP to
 * `endpoint` (e.g. `http://otel-collector:4318/v1/traces`). Off unless FETCHBOX_OTEL_ENDPOINT is set.
 */
export function createTracing(endpoint: string, serviceName: string): Tracing {
  const exporter = new OTLPTraceExporter({ url: endpoint });
  const spanProcessor = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1_000 });
  const resource = new Resource({ 'service.name': serviceName });
  // Client and activity interceptors trace through the global provider; workflow spans leave the
  // sandbox through the plugin's sink. Both end in the same processor.
  const provider = new BasicTracerProvider({ resource });
  provider.addSpanProcessor(spanProcessor);
  if (!tracingRegistered) {
    trace.setGlobalTracerProvider(provider);
    tracingRegistered = true;
  }
  return {
    plugin: new OpenTelemetryPlugin({ resource, spanProcessor }),
    async shutdown() {
      await spanProcessor.forceFlush();
      await provider.shutdown();
    },
  };
}
