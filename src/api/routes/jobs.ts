import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { ApiMetrics } from '../../metrics/api-metrics.js';
import { ApiError } from '../api-error.js';
import { clientOf } from '../client-identity.js';
import type { AppEnv } from '../app-env.js';
import { jobLinks } from '../job-path.js';
import { manifestOverflow } from '../submit-guards.js';
import { Scope } from '../auth.js';
import { ResourceEventFilter, type JobService } from '../job-service.js';
import { scoped } from '../route-security.js';
import {
  CursorQuerySchema,
  errorResponses,
  JobIdSchema,
  JobListSchema,
  JobStatusSchema,
  JobSummarySchema,
  HandlerNameSchema,
  LimitQuerySchema,
  ResourcesPageSchema,
  ResourceStatusSchema,
  RetryResponseSchema,
  SubmitResponseSchema,
} from '../schemas.js';
import { JobStatus } from '../../workflows/constants.js';

/** The `Location` header of a submit's answer (the contract's): the job's own URL, as `links.self`. */
const locationHeader = { Location: { description: 'The job: `/jobs/<jobId>`, as `links.self`', schema: { type: 'string' as const } } };

/**
 * `POST /jobs`: `guards` (rate limit, content type, size, manifest limits and schema) run after the
 * scope check and hand the handler the manifest (submit-guards.ts). The body is declared by
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

const jobParams = z.object({ jobId: JobIdSchema.openapi({ param: { name: 'jobId', in: 'path' } }) });

const listRoute = createRoute({
  method: 'get',
  path: '/jobs',
  ...scoped(Scope.read),
  summary: 'List jobs (Temporal visibility), newest first',
  request: {
    query: z.object({
      status: JobStatusSchema.optional(),
      handler: HandlerNameSchema.optional(),
      limit: LimitQuerySchema,
      cursor: CursorQuerySchema,
    }),
  },
  responses: {
    200: { description: 'A page of jobs', content: { 'application/json': { schema: JobListSchema } } },
    ...errorResponses(400, 401, 403, 503),
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/jobs/{jobId}',
  ...scoped(Scope.read),
  summary: 'Job summary',
  request: { params: jobParams },
  responses: {
    200: { description: 'The job', content: { 'application/json': { schema: JobSummarySchema } } },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

/** `GET /jobs/{jobId}/resources`; `guard` (the per-client listing rate) runs after the scope check. */
const resourcesRoute = (guard: MiddlewareHandler<AppEnv>) =>
  createRoute({
    method: 'get',
    path: '/jobs/{jobId}/resources',
    ...scoped(Scope.read, guard),
    summary: 'Per-resource state, paginated',
    description:
      'Manifest order. A page may hold fewer than `limit` items when a status filter is sparse; follow `nextCursor` until it is null.',
    request: {
      params: jobParams,
      query: z.object({
        status: ResourceStatusSchema.optional(),
        limit: LimitQuerySchema,
        cursor: CursorQuerySchema,
      }),
    },
    responses: {
      200: { description: 'A page of resources', content: { 'application/json': { schema: ResourcesPageSchema } } },
      ...errorResponses(400, 401, 403, 404, 429, 503),
    },
  });

const retryRoute = createRoute({
  method: 'post',
  path: '/jobs/{jobId}/retry',
  ...scoped(Scope.operator),
  summary: "Download the job's failed resources again",
  description:
    'A running job runs a retry round after its current pass; a closed job with failures starts a new run of the same workflow id that retries only them. `retrying` is false when there was nothing to retry. Canceled, failed, terminated and timed-out jobs answer 409 job_not_retryable.',
  request: { params: jobParams },
  responses: {
    202: { description: 'Retry accepted', content: { 'application/json': { schema: RetryResponseSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

const cancelRoute = createRoute({
  method: 'post',
  path: '/jobs/{jobId}/cancel',
  ...scoped(Scope.operator),
  summary: 'Cancel a running job',
  description:
    'Running downloads are canceled; finished ones stay stored. The job ends `canceled`. Answers `status: running` (the job is being canceled); canceling a canceled job is accepted again with `status: canceled`; another closed job answers 409 job_not_running.',
  request: { params: jobParams },
  responses: {
    202: { description: 'Cancellation requested', content: { 'application/json': { schema: SubmitResponseSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

/** `GET /jobs/{jobId}/events`; `guard` (open streams per client) runs after the scope check. */
const eventsRoute = (guard: MiddlewareHandler<AppEnv>) =>
  createRoute({
    method: 'get',
    path: '/jobs/{jobId}/events',
    ...scoped(Scope.read, guard),
    summary: 'Progress as Server-Sent Events until the job closes',
    description:
      'Events: `summary` (data: the job summary) whenever the counts change; `resource` (data: the resource state with `jobId`, `page` and `round`) once per resource and page round as it settles: failures, and in retry rounds also successes (`?resources=all`: every settled resource); then `end` (data: the final summary) when the job closes, then the stream closes. Resources that settled before the stream began are reported first, so a job that is already closed gets its resource events and `end`. Event ids increase. Comment lines keep idle connections open.',
    request: {
      params: jobParams,
      query: z.object({
        resources: z.enum([ResourceEventFilter.failed, ResourceEventFilter.all]).default(ResourceEventFilter.failed).openapi({
          description: '`failed`: resource events for failures (and successes in retry rounds); `all`: for every settled resource',
        }),
      }),
    },
    responses: {
      200: { description: 'An event stream', content: { 'text/event-stream': { schema: z.string() } } },
      ...errorResponses(400, 401, 403, 404, 429, 503),
    },
  });

/** What the job routes need besides the service. */
export interface JobRouteOptions {
  metrics: ApiMetrics;
  eventsIntervalMs: number;
  /** The per-client listing rate limit of `GET /jobs/{jobId}/resources` (shared with `GET /failures`). */
  listGuard: MiddlewareHandler<AppEnv>;
  /** The per-client cap on open event streams. */
  streamGuard: MiddlewareHandler<AppEnv>;
}

/** `POST /jobs`, bound to a JobService; `options.guards` are its checks before the handler (submitGuards). */
export function submitRoutes(jobs: JobService, options: { metrics: ApiMetrics; guards: readonly MiddlewareHandler<AppEnv>[] }) {
  return new OpenAPIHono<AppEnv>().openapi(submitRoute(options.guards), async (c) => {
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

/** The job routes, bound to a JobService. */
export function jobRoutes(jobs: JobService, options: JobRouteOptions) {
  const links = (jobId: string) => jobLinks(jobs, jobId);
  return new OpenAPIHono<AppEnv>()
    .openapi(listRoute, async (c) => {
      const { status, handler, limit, cursor } = c.req.valid('query');
      const page = await jobs.list({
        ...(status ? { status } : {}),
        ...(handler ? { handler } : {}),
        ...(cursor ? { cursor } : {}),
        limit,
      });
      return c.json({ items: page.items.map((j) => ({ ...j, links: links(j.jobId) })), nextCursor: page.next }, 200);
    })
    .openapi(getRoute, async (c) => {
      const { jobId } = c.req.valid('param');
      const summary = await jobs.summary(jobId);
      return c.json({ ...summary, links: links(jobId) }, 200);
    })
    .openapi(resourcesRoute(options.listGuard), async (c) => {
      const { jobId } = c.req.valid('param');
      const { status, limit, cursor } = c.req.valid('query');
      const page = await jobs.resources(jobId, { ...(status ? { status } : {}), ...(cursor ? { cursor } : {}), limit });
      return c.json({ items: page.items, nextCursor: page.next }, 200);
    })
    .openapi(retryRoute, async (c) => {
      const { jobId } = c.req.valid('param');
      const { status, retrying } = await jobs.retry(jobId);
      return c.json({ jobId, status, retrying, links: links(jobId) }, 202);
    })
    .openapi(cancelRoute, async (c) => {
      const { jobId } = c.req.valid('param');
      // `running` when the cancellation was requested now; `canceled` when the job already was.
      const { status } = await jobs.cancel(jobId);
      return c.json({ jobId, status, links: links(jobId) }, 202);
    })
    .openapi(eventsRoute(options.streamGuard), async (c) => {
      const { jobId } = c.req.valid('param');
      const { resources } = c.req.valid('query');
      const abort = new AbortController();
      c.req.raw.signal.addEventListener('abort', () => abort.abort(), { once: true });
      // 404 and 503 are answered as JSON before the stream starts.
      const events = await jobs.events(jobId, { intervalMs: options.eventsIntervalMs, resources, signal: abort.signal });
      return streamSSE(c, async (stream) => {
        stream.onAbort(() => abort.abort());
        let id = 0;
        try {
          // Each write is awaited: a slow client holds the stream's polling back (job-events.ts).
          for await (const e of events) {
            if (abort.signal.aborted) break;
            if (e.event === 'keepalive') await stream.write(': keepalive\n\n');
            else {
              const data = e.event === 'resource' ? e.data : { ...e.data, links: links(jobId) };
              await stream.writeSSE({ event: e.event, id: String(++id), data: JSON.stringify(data) });
            }
          }
        } catch (err) {
          if (!abort.signal.aborted) {
            await stream.writeSSE({
              event: 'error',
              data: JSON.stringify({ error: { code: 'stream_failed', message: (err as Error).message } }),
            });
          }
        }
      });
    });
}
