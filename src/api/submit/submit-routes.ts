import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import type { ApiMetrics } from '../../observability/api-metrics.js';
import { JobStatus } from '../../model/constants.js';
import { ApiError, ErrorCode, issuesError, validationError } from '../api-error.js';
import type { AppEnv } from '../app-env.js';
import { Scope } from '../auth.js';
import { clientOf } from '../client-identity.js';
import type { JobService } from '../job-service.js';
import { jobLinks } from '../job-path.js';
import { scoped } from '../route-security.js';
import { errorResponses, SubmitResponseSchema } from '../schemas.js';
import { manifestLimitIssues, type ManifestLimits } from './manifest-limits.js';
import { rateLimit } from '../rate-limit.js';
import { ManifestSchema, type Manifest } from './manifest-schema.js';

/** What the submit route checks before its handler sees the manifest. */
export interface SubmitGuardOptions {
  bodyLimitBytes: number;
  /** Submits per second per client; 0 = unlimited. */
  submitRate: number;
  submitBurst: number;
  limits: ManifestLimits;
}

function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  const type = value.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/**
 * The `400 invalid_manifest` for a stack overflow while a manifest is validated or submitted
 * (input-driven recursion: a refused manifest, never a server fault), logged; undefined for any
 * other error.
 */
export function manifestOverflow(err: unknown, logger: Logger): ApiError | undefined {
  if (!(err instanceof RangeError && /call stack/i.test(err.message))) return undefined;
  logger.warn({ err, path: '/jobs' }, 'manifest validation overflowed the stack');
  return new ApiError(400, ErrorCode.invalidManifest, 'the manifest is too deeply nested or too large to validate');
}

/**
 * The manifest schema's verdict on a parsed body: the manifest, or `400 invalid_manifest` with
 * each bad field's path (a stack overflow too: {@link manifestOverflow}).
 */
function validManifest(body: unknown, logger: Logger): Manifest {
  let result: ReturnType<typeof ManifestSchema.safeParse>;
  try {
    result = ManifestSchema.safeParse(body);
  } catch (err) {
    throw manifestOverflow(err, logger) ?? err;
  }
  if (!result.success) throw validationError(result.error, ErrorCode.invalidManifest, 'the manifest is not valid');
  return result.data;
}

/**
 * `POST /jobs` middleware after its scope check, in order: the per-client rate limit (429, keyed on
 * the token's identity or the peer address, rate-limit.ts), JSON content type (415), the body size
 * limit (413), then the body parsed once: the configured manifest limits (400) before the schema
 * looks at a single resource, then the schema (400 `invalid_manifest` with field paths). The
 * manifest reaches the handler as the context variable `manifest` (the route declares its body for
 * the OpenAPI document only, so no second validator parses it again: a 100,000-resource manifest is
 * ~60 ms of JSON.parse on the event loop).
 */
export function submitGuards(options: SubmitGuardOptions): MiddlewareHandler<AppEnv>[] {
  const { bodyLimitBytes, submitRate, submitBurst, limits } = options;
  const contentType: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (!isJsonContentType(c.req.header('content-type'))) {
      throw new ApiError(415, ErrorCode.unsupportedMediaType, 'send the manifest as application/json');
    }
    await next();
  };
  const size = bodyLimit({
    maxSize: bodyLimitBytes,
    onError: () => {
      throw new ApiError(413, ErrorCode.payloadTooLarge, `the body exceeds ${bodyLimitBytes} bytes`);
    },
  });
  const manifest: MiddlewareHandler<AppEnv> = async (c, next) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch (err) {
      if (err instanceof ApiError || err instanceof HTTPException) throw err;
      throw new ApiError(400, ErrorCode.invalidManifest, 'the body is not valid JSON');
    }
    const issues = manifestLimitIssues(body, limits);
    if (issues.length > 0) throw issuesError(ErrorCode.invalidManifest, 'the manifest exceeds a limit', issues);
    c.set('manifest', validManifest(body, c.get('logger')));
    await next();
  };
  return [rateLimit({ rate: submitRate, burst: submitBurst, what: 'submits' }), contentType, size, manifest];
}

/** The `Location` header of a submit's answer (the contract's): the job's own URL, as `links.self`. */
const locationHeader = { Location: { description: 'The job: `/jobs/<jobId>`, as `links.self`', schema: { type: 'string' as const } } };

/**
 * `POST /jobs`: `guards` (rate limit, content type, size, manifest limits and schema) run after the
 * scope check and hand the handler the manifest ({@link submitGuards}). The body is declared by
 * reference for the OpenAPI document only, so no second validator parses it.
 */
const submitRoute = (guards: readonly MiddlewareHandler<AppEnv>[]) =>
  createRoute({
    method: 'post',
    path: '/jobs',
    ...scoped(Scope.ingest, ...guards),
    summary: 'Submit a manifest',
    description:
      'Starts workflow `job-<jobId>`. Idempotent by jobId: the same manifest again answers 200 with the existing job; a different one 409 job_conflict.',
    request: { body: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Manifest' } } } } },
    responses: {
      200: {
        description: 'The job already exists with an identical manifest',
        headers: locationHeader,
        content: { 'application/json': { schema: SubmitResponseSchema } },
      },
      202: {
        description: 'A new job was started',
        headers: locationHeader,
        content: { 'application/json': { schema: SubmitResponseSchema } },
      },
      ...errorResponses(400, 401, 403, 409, 413, 415, 429, 503),
    },
  });

/** What the submit route needs besides the service: its guards' settings and the metrics it counts submits in. */
export interface SubmitRouteOptions extends SubmitGuardOptions {
  metrics: ApiMetrics;
}

/** `POST /jobs`, bound to a JobService: its guards ({@link submitGuards}), then the submit. */
export function submitRoutes(jobs: JobService, options: SubmitRouteOptions) {
  return new OpenAPIHono<AppEnv>().openapi(submitRoute(submitGuards(options)), async (c) => {
    const manifest = c.get('manifest');
    let created: boolean;
    let jobId: string;
    let status: JobStatus | undefined;
    try {
      ({ jobId, created, status } = await jobs.submit(manifest, clientOf(c)));
    } catch (err) {
      const outcome =
        err instanceof ApiError ? (err.status === 409 ? 'conflict' : err.status === 503 ? 'unavailable' : 'rejected') : 'error';
      options.metrics.submits.inc({ handler: jobs.handlerLabel(manifest.handler), outcome });
      throw manifestOverflow(err, c.get('logger')) ?? err;
    }
    options.metrics.submits.inc({ handler: jobs.handlerLabel(manifest.handler), outcome: created ? 'created' : 'duplicate' });
    // A resubmit of an existing job answers its current status (a new job is running).
    const body = { jobId, status: status ?? JobStatus.running, links: jobLinks(jobs, jobId) };
    c.header('Location', body.links.self);
    return created ? c.json(body, 202) : c.json(body, 200);
  });
}
