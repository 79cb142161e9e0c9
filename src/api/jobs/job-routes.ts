import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { AppEnv } from '../app-env.js';
import { jobLinks } from '../job-path.js';
import { Scope } from '../auth.js';
import type { JobService } from '../job-service.js';
import { ResourceEventFilter } from './resource-event-tracker.js';
import { scoped } from '../route-security.js';
import {
  CursorQuerySchema,
  errorResponses,
  JobListSchema,
  JobParamsSchema,
  JobStatusSchema,
  JobSummarySchema,
  HandlerNameSchema,
  LimitQuerySchema,
  ResourcesPageSchema,
  ResourceStatusSchema,
} from '../schemas.js';

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
  request: { params: JobParamsSchema },
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
      params: JobParamsSchema,
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
      params: JobParamsSchema,
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

/** What the job reading routes need besides the service. */
export interface JobRouteOptions {
  eventsIntervalMs: number;
  /** The per-client listing rate limit of `GET /jobs/{jobId}/resources` (shared with `GET /failures`). */
  listGuard: MiddlewareHandler<AppEnv>;
  /** The per-client cap on open event streams. */
  streamGuard: MiddlewareHandler<AppEnv>;
}

/**
 * The routes that read jobs (`GET /jobs`, `GET /jobs/{jobId}`, its resources and its event stream),
 * bound to a JobService. Submitting is src/api/submit/, retrying and canceling src/api/operator/.
 */
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
