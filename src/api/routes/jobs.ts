import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env.js';
import type { JobService } from '../job-service.js';
import {
  ErrorSchema,
  JobIdSchema,
  JobSummarySchema,
  ManifestSchema,
  ResourcesPageSchema,
  RetryResponseSchema,
  SubmitResponseSchema,
} from '../schemas.js';

const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((code) => [code, { description: 'Error', content: { 'application/json': { schema: ErrorSchema } } }]),
  );

const submitRoute = createRoute({
  method: 'post',
  path: '/jobs',
  summary: 'Submit a manifest',
  description: 'Starts workflow `job-<jobId>`. Idempotent by jobId: the same manifest again answers 200 with the existing job.',
  request: { body: { required: true, content: { 'application/json': { schema: ManifestSchema } } } },
  responses: {
    200: { description: 'The job already exists with an identical manifest', content: { 'application/json': { schema: SubmitResponseSchema } } },
    202: { description: 'A new job was started', content: { 'application/json': { schema: SubmitResponseSchema } } },
    ...errors(400, 401, 403, 409, 413, 415, 503),
  },
});

const jobParams = z.object({ jobId: JobIdSchema.openapi({ param: { name: 'jobId', in: 'path' } }) });

const getRoute = createRoute({
  method: 'get',
  path: '/jobs/{jobId}',
  summary: 'Job summary',
  request: { params: jobParams },
  responses: {
    200: { description: 'The job', content: { 'application/json': { schema: JobSummarySchema } } },
    ...errors(400, 401, 403, 404, 503),
  },
});

const resourcesRoute = createRoute({
  method: 'get',
  path: '/jobs/{jobId}/resources',
  summary: 'Per-resource state, paginated',
  request: {
    params: jobParams,
    query: z.object({
      status: z.enum(['pending', 'succeeded', 'failed']).optional(),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
      cursor: z
        .string()
        .regex(/^\d{1,7}\.\d{1,7}$/, 'not a cursor returned by this API')
        .optional(),
    }),
  },
  responses: {
    200: { description: 'A page of resources', content: { 'application/json': { schema: ResourcesPageSchema } } },
    ...errors(400, 401, 403, 404, 503),
  },
});

const retryRoute = createRoute({
  method: 'post',
  path: '/jobs/{jobId}/retry',
  summary: 'Download the job\'s failed resources again',
  description:
    'A running job runs a retry round after its current pass; a closed job with failures starts a new run of the same workflow id that retries only them. `retrying` is false when there was nothing to retry.',
  request: { params: jobParams },
  responses: {
    202: { description: 'Retry accepted', content: { 'application/json': { schema: RetryResponseSchema } } },
    ...errors(400, 401, 403, 404, 409, 503),
  },
});

const cancelRoute = createRoute({
  method: 'post',
  path: '/jobs/{jobId}/cancel',
  summary: 'Cancel a running job',
  description: 'Running downloads are canceled; finished ones stay stored. The job ends `canceled`. Canceling a canceled job is accepted again.',
  request: { params: jobParams },
  responses: {
    202: { description: 'Cancellation requested', content: { 'application/json': { schema: SubmitResponseSchema } } },
    ...errors(400, 401, 403, 404, 409, 503),
  },
});

/** The job routes, bound to a JobService. */
export function jobRoutes(jobs: JobService) {
  const links = (jobId: string) => ({ self: `/jobs/${encodeURIComponent(jobId)}`, temporalUi: jobs.temporalUiUrl(jobId) });
  return new OpenAPIHono<AppEnv>()
    .openapi(submitRoute, async (c) => {
      const manifest = c.req.valid('json');
      const { jobId, created } = await jobs.submit(manifest);
      const body = { jobId, status: 'running' as const, links: links(jobId) };
      c.header('Location', body.links.self);
      return created ? c.json(body, 202) : c.json(body, 200);
    })
    .openapi(getRoute, async (c) => {
      const { jobId } = c.req.valid('param');
      const summary = await jobs.summary(jobId);
      return c.json({ ...summary, links: links(jobId) }, 200);
    })
    .openapi(resourcesRoute, async (c) => {
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
      await jobs.cancel(jobId);
      return c.json({ jobId, status: 'running' as const, links: links(jobId) }, 202);
    });
}
