import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The API process's Prometheus metrics (prom-client): request counts and latency by route, and
 * submits by outcome, plus Node.js process metrics. One registry per app so tests stay isolated.
 * Names and units are listed in docs/observability.md.
 */
export class ApiMetrics {
  readonly registry = new Registry();

  /** Requests answered, by method, route pattern and status code. */
  readonly requests = new Counter({
    name: 'fetchbox_api_requests_total',
    help: 'HTTP requests answered by the API, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  /** Request latency in seconds, by method and route pattern. */
  readonly duration = new Histogram({
    name: 'fetchbox_api_request_duration_seconds',
    help: 'Time to answer an API request, in seconds (SSE streams: until the stream closes).',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  /**
   * Manifests submitted, by handler (registered names only; see JobService.handlerLabel) and outcome.
   * Counted by the submit route's handler, so only manifests that passed the submit guards and the
   * schema: their 429, 415, 413 and 400 answers are not submits (docs/observability.md).
   */
  readonly submits = new Counter({
    name: 'fetchbox_jobs_submitted_total',
    help: 'POST /jobs outcomes, after the submit guards and the schema, by handler (registered names only, others: other): created (new job), duplicate (same jobId and manifest), conflict (409), rejected (400), unavailable (503), error (anything else).',
    labelNames: ['handler', 'outcome'] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'fetchbox_api_' });
  }
}
