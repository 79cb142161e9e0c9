import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.js';
import { Scope } from '../auth.js';
import {
  CursorQuerySchema,
  ErrorKindSchema,
  errorResponses,
  HandlerNameSchema,
  IsoTimeSchema,
  LimitQuerySchema,
  pageSchema,
} from '../schemas.js';
import type { JobService } from '../job-service.js';
import { scoped } from '../route-security.js';

/** A host name, IPv4 or `[IPv6]` literal, optionally with `:port`. */
const HostSchema = z
  .string()
  .min(1)
  .max(262)
  .regex(/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/, 'a host name or address, optionally with :port');

/** Query of `GET /failures`. */
export const FailuresQuerySchema = z.object({
  since: IsoTimeSchema.optional().openapi({ description: 'Jobs closed at or after this time (ISO 8601).' }),
  until: IsoTimeSchema.optional().openapi({ description: 'Jobs closed at or before this time (ISO 8601).' }),
  handler: HandlerNameSchema.optional(),
  kind: ErrorKindSchema.optional(),
  host: HostSchema.optional().openapi({ description: "The URL's host, case-insensitive; with `:port`, that port only." }),
  limit: LimitQuerySchema,
  cursor: CursorQuerySchema,
});

/** One failed resource of the dead-letter view. */
export const FailureSchema = z
  .object({
    jobId: z.string(),
    handler: z.string(),
    id: z.string(),
    url: z.string(),
    key: z.string(),
    attempts: z.number().int(),
    error: z.object({ kind: ErrorKindSchema, message: z.string(), httpStatus: z.number().int().optional() }),
    when: z.string().openapi({ description: 'Close time of the job run that recorded the failure (ISO 8601).' }),
    page: z.number().int().openapi({ description: "The job's page (0-based) holding the resource." }),
  })
  .openapi('Failure');

/** A page of the dead-letter view. */
export const FailuresPageSchema = pageSchema(FailureSchema, 'FailuresPage');

/** `GET /failures`; `guard` (the per-client listing rate) runs after the scope check. */
const failuresRoute = (guard: MiddlewareHandler<AppEnv>) =>
  createRoute({
    method: 'get',
    path: '/failures',
    ...scoped(Scope.read, guard),
    summary: 'Failed resources across jobs (the dead-letter view)',
    description:
      'Failed resources of the jobs that completed with failures (their latest run), newest jobs first (Temporal visibility), within a job by page and manifest order. ' +
      "`since`/`until` bound the job run's close time, which is also each item's `when`. Running jobs are not listed until they close. " +
      'One call reads a bounded number of jobs and pages: a page may hold fewer than `limit` items, even none; follow `nextCursor` until it is null. ' +
      'A cursor is valid only with the filters it was returned for.',
    request: { query: FailuresQuerySchema },
    responses: {
      200: { description: 'A page of failed resources', content: { 'application/json': { schema: FailuresPageSchema } } },
      ...errorResponses(400, 401, 403, 429, 503),
    },
  });

/** `GET /failures`, bound to a JobService; `listGuard` is the per-client listing rate limit. */
export function failureRoutes(jobs: JobService, listGuard: MiddlewareHandler<AppEnv>) {
  return new OpenAPIHono<AppEnv>().openapi(failuresRoute(listGuard), async (c) => {
    const { since, until, handler, kind, host, limit, cursor } = c.req.valid('query');
    const filter = {
      ...(since ? { since } : {}),
      ...(until ? { until } : {}),
      ...(handler ? { handler } : {}),
      ...(kind ? { kind } : {}),
      ...(host ? { host } : {}),
    };
    const page = await jobs.failures(filter, { limit, ...(cursor ? { cursor } : {}) });
    return c.json({ items: page.items, nextCursor: page.next }, 200);
  });
}
