import { OpenAPIHono } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import { ApiMetrics } from '../observability/api-metrics.js';
import { ApiError, ErrorCode, validationError } from './api-error.js';
import type { AppEnv } from './app-env.js';
import { hostGuard, type BoundAddress } from './host-guard.js';
import type { ApiToken } from './auth.js';
import type { JobService } from './job-service.js';
import { DEFAULT_MANIFEST_LIMITS, type ManifestLimits } from './submit/manifest-limits.js';
import { appWide, assertRouteSecurity, BEARER_SCHEME, bearerSecurityScheme, declaredRouteOf, routeGuard } from './route-security.js';
import { docsRoutes } from './service/docs-routes.js';
import { failureRoutes } from './failures/failure-routes.js';
import { healthRoutes, type ReadinessCheck } from './service/health-routes.js';
import { jobRoutes } from './jobs/job-routes.js';
import { metricsRoutes } from './service/metrics-routes.js';
import { operatorRoutes } from './operator/operator-routes.js';
import { concurrencyLimit, rateLimit } from './rate-limit.js';
import { ManifestSchema, ResourceSchema } from './submit/manifest-schema.js';
import { submitRoutes } from './submit/submit-routes.js';

/** What the API app is built from; the caller owns (and closes) every piece. */
export interface AppDeps {
  jobs: JobService;
  checks: readonly ReadinessCheck[];
  logger: Logger;
  bodyLimitBytes: number;
  /** Bearer tokens with scopes (see parseTokens); empty means no auth (loopback-only deployments). */
  tokens?: readonly ApiToken[];
  /** Serve /metrics without a token even when tokens are configured (default true). */
  metricsPublic?: boolean;
  /** Interval between SSE progress events (default 1 s). */
  eventsIntervalMs?: number;
  /** Metrics registry; a fresh one when omitted. */
  metrics?: ApiMetrics;
  /** Submits per second per client (token, or peer address without auth); 0 = unlimited. */
  submitRate?: number;
  /** Burst of submits a client may make at once (default 2 × submitRate). */
  submitBurst?: number;
  /** Manifest limits checked before validation; by default the job service's configured `limits.*`. */
  limits?: ManifestLimits;
  /** `GET /failures` and `GET /jobs/{jobId}/resources` calls per second per client, one bucket for both; 0 = unlimited. */
  listRate?: number;
  /** Listing calls a client may burst at once (default 5 × listRate). */
  listBurst?: number;
  /** Event streams (`GET /jobs/{jobId}/events`) one client may hold open at once; 0 = unlimited. */
  maxStreamsPerClient?: number;
  /**
   * Where the server listens. Given and without tokens, the app answers only requests whose `Host`
   * names this address (host-guard.ts: the DNS rebinding defence); every server passes it.
   */
  bound?: BoundAddress;
  /** How long `/readyz` reuses a check's result (default 5 s), so probes cannot flood Temporal or storage. */
  readinessCacheMs?: number;
}

/** The OpenAPI document's header; the paths come from the routes. */
const openApiInfo = {
  openapi: '3.1.0',
  info: {
    title: 'FetchBox API',
    version: '1.0.0',
    description: 'Submit download manifests and follow their jobs. Every error is `{"error": {"code", "message", "details"?}}`.',
  },
};

/**
 * Drops query parameters sent with an empty value (`?status=&cursor=`), so each counts as not
 * given: the contract writes its filters that way (`GET /jobs?status=&handler=&limit=&cursor=`),
 * and a client that pastes an absent cursor or filter into its URL as `cursor=` gets the first
 * page rather than a 400. Only GET requests, and only when a parameter is empty.
 */
const dropEmptyQueryParams: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method === 'GET') {
    const url = new URL(c.req.url);
    const empty = [...url.searchParams].filter(([, value]) => value === '').map(([key]) => key);
    if (empty.length > 0) {
      for (const key of empty) if (url.searchParams.getAll(key).every((v) => v === '')) url.searchParams.delete(key);
      c.req.raw = new Request(url, c.req.raw);
    }
  }
  await next();
};

/** What a failed validation target is called in an error message ("invalid json" read as a syntax error). */
const TARGET_NAMES = { json: 'request body', query: 'query parameters', param: 'path parameters', header: 'headers' } as const;

/**
 * Builds the Hono app: every route of the contract (each declaring its own access; the app
 * refuses to build with a route that declares none), one `defaultHook` that turns validation
 * failures into 400s with field paths, and one `onError` that shapes every other failure into
 * the contract's error body (never a stack trace). Tests call `app.request()` on it directly.
 */
export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const target = TARGET_NAMES[result.target as keyof typeof TARGET_NAMES] ?? result.target;
      return c.json(validationError(result.error, ErrorCode.invalidRequest, `invalid ${target}`).body(), 400);
    },
  });

  const metrics = deps.metrics ?? new ApiMetrics();
  app.use(
    '*',
    appWide(async (c, next) => {
      const started = performance.now();
      c.set('logger', deps.logger);
      await next();
      const seconds = (performance.now() - started) / 1000;
      // A request no route declared (an unknown path or method) is counted under one label.
      const route = declaredRouteOf(c) ?? 'unmatched';
      metrics.requests.inc({ method: c.req.method, route, status: String(c.res.status) });
      metrics.duration.observe({ method: c.req.method, route }, seconds);
      deps.logger.debug({ method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(seconds * 1000) }, 'request');
    }),
  );
  // A token-less API answers only to its own address (DNS rebinding), before anything else looks at the request.
  if ((deps.tokens ?? []).length === 0 && deps.bound) app.use('*', hostGuard(deps.bound));
  // Auth is declared by each route (src/api/route-security.ts); this refuses routes that declare none.
  app.use('*', routeGuard(deps.tokens ?? []));
  app.use('*', appWide(dropEmptyQueryParams));

  const rate = deps.submitRate ?? 0;
  // Configured limits on the parsed manifest, before the schema looks at a single resource.
  // (A stand-in job service in tests may not have them: the defaults then.)
  const limits = deps.limits ?? ('manifestLimits' in deps.jobs ? deps.jobs.manifestLimits : DEFAULT_MANIFEST_LIMITS);

  // Per-client limits on the expensive reads (each after its route's scope check, keyed on who the client is).
  const listRate = deps.listRate ?? 0;
  const listGuard = rateLimit({ rate: listRate, burst: deps.listBurst ?? Math.max(1, listRate * 5), what: 'listings' });
  const streamGuard = concurrencyLimit({ max: deps.maxStreamsPerClient ?? 0, what: 'event streams' });

  app.route('/', healthRoutes(deps.checks, { cacheMs: deps.readinessCacheMs ?? 5_000, logger: deps.logger }));
  app.route(
    '/',
    submitRoutes(deps.jobs, {
      metrics,
      bodyLimitBytes: deps.bodyLimitBytes,
      submitRate: rate,
      submitBurst: deps.submitBurst ?? Math.max(1, rate * 2),
      limits,
    }),
  );
  app.route('/', jobRoutes(deps.jobs, { eventsIntervalMs: deps.eventsIntervalMs ?? 1_000, listGuard, streamGuard }));
  app.route('/', metricsRoutes(metrics, { public: deps.metricsPublic ?? true }));
  app.route('/', failureRoutes(deps.jobs, listGuard));
  app.route('/', operatorRoutes(deps.jobs));

  // The submit route declares its body by reference (its guards validate it); the manifest schema
  // validates resources one by one and points at the Resource component.
  app.openAPIRegistry.register('Manifest', ManifestSchema);
  app.openAPIRegistry.register('Resource', ResourceSchema);
  app.openAPIRegistry.registerComponent('securitySchemes', BEARER_SCHEME, bearerSecurityScheme);
  app.route(
    '/',
    docsRoutes(() => app.getOpenAPI31Document(openApiInfo) as unknown as Record<string, unknown>),
  );

  app.notFound((c) => c.json(new ApiError(404, ErrorCode.notFound, `no route ${c.req.method} ${c.req.path}`).body(), 404));

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      if (err.retryAfterSeconds !== undefined) c.header('Retry-After', String(err.retryAfterSeconds));
      return c.json(err.body(), err.status);
    }
    if (err instanceof HTTPException) {
      // Hono's JSON validator on a body that is not JSON (the manifest's own guard answers for POST /jobs).
      if (err.status === 400) return c.json(new ApiError(400, ErrorCode.invalidRequest, 'the body is not valid JSON').body(), 400);
      if (err.status === 413) return c.json(new ApiError(413, ErrorCode.payloadTooLarge, err.message).body(), 413);
      if (err.status === 415) {
        // Hono's JSON validator refuses a body not declared as JSON (POST /retries): the contract's code.
        return c.json(new ApiError(415, ErrorCode.unsupportedMediaType, 'send the body as application/json').body(), 415);
      }
      const status = err.status >= 500 ? 500 : err.status;
      return c.json(new ApiError(status, ErrorCode.invalidRequest, err.message).body(), status);
    }
    deps.logger.error({ err, method: c.req.method, path: c.req.path }, 'unhandled error in request');
    return c.json(new ApiError(500, ErrorCode.internalError, 'internal error; the API log has the details').body(), 500);
  });

  assertRouteSecurity(app);
  return app;
}

/** The app's type, for typed test clients. */
export type App = ReturnType<typeof createApp>;
