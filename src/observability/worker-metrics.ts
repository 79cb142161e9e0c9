import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * A worker process's own Prometheus metrics (prom-client), measured in the download activity.
 * Served together with Temporal's SDK metrics on the worker's metrics port; names and units are
 * listed in docs/observability.md and used by deploy/prometheus/alerts.yml.
 */
export class WorkerMetrics {
  readonly registry = new Registry();

  /** Download attempts by outcome (`succeeded`, `not_modified`, `skipped`, `resumed`, or the failure kind) and proxy tier. */
  readonly attempts = new Counter({
    name: 'fetchbox_download_attempts_total',
    help: 'Download attempts, by outcome (succeeded, not_modified, skipped, resumed, or the error kind) and proxy tier.',
    labelNames: ['outcome', 'tier'] as const,
    registers: [this.registry],
  });

  /** Bytes committed to storage. */
  readonly bytesStored = new Counter({
    name: 'fetchbox_bytes_stored_total',
    help: 'Bytes of bodies committed to storage, in bytes.',
    registers: [this.registry],
  });

  /** Time from the request to the response headers. */
  readonly fetchHeaders = new Histogram({
    name: 'fetchbox_fetch_headers_duration_seconds',
    help: 'Time from sending a request to receiving its response headers (after redirects), in seconds.',
    labelNames: ['tier'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  /** A whole download attempt: request to committed object (or failure). */
  readonly download = new Histogram({
    name: 'fetchbox_download_duration_seconds',
    help: 'A whole download attempt, from request to committed object or failure, in seconds.',
    labelNames: ['outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  /** Streaming a body into storage until it is committed. */
  readonly upload = new Histogram({
    name: 'fetchbox_upload_duration_seconds',
    help: 'Streaming a body into storage until the object is committed, in seconds (includes the origin body transfer).',
    labelNames: ['driver'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  /** Storage failures (the `storage` error kind), by driver. */
  readonly storageErrors = new Counter({
    name: 'fetchbox_storage_errors_total',
    help: 'Failed storage writes (backend unreachable, denied, full), by driver.',
    labelNames: ['driver'] as const,
    registers: [this.registry],
  });

  /** Requests sent through a proxy tier, by tier and whether the attempt failed. */
  readonly proxyRequests = new Counter({
    name: 'fetchbox_proxy_requests_total',
    help: 'Download attempts through a proxy tier (not direct), by tier and outcome (ok or failed).',
    labelNames: ['tier', 'outcome'] as const,
    registers: [this.registry],
  });

  /** Bytes held by partial downloads (resumable prefixes) per store, as the last full sweep counted them. */
  readonly partialBytes = new Gauge({
    name: 'fetchbox_partial_bytes',
    help: 'Bytes held by partial downloads (prefixes of interrupted resumable bodies) in a store, as the last full sweep counted them.',
    labelNames: ['store'] as const,
    registers: [this.registry],
  });

  /** How long downloads waited for their host's permit (politeness across jobs and workers; limited hosts only). */
  readonly hostPermitWait = new Histogram({
    name: 'fetchbox_host_permit_wait_seconds',
    help: 'Time a download of a host with a limit waited for its permit from the worker host broker, in seconds.',
    buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  /** Lease requests the worker's host broker sent to hosts' coordinator workflows, by outcome. */
  readonly hostLeaseRequests = new Counter({
    name: 'fetchbox_host_lease_requests_total',
    help: 'Lease requests (hostLease Updates) the worker host broker sent to host coordinator workflows, by outcome (ok, error).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'fetchbox_worker_' });
  }
}
