import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { ApiError, ErrorCode } from '../api-error.js';
import type { AppEnv } from '../app-env.js';
import { Scope } from '../auth.js';
import { RetriesRequestSchema, RetriesResponseSchema } from '../failures-schemas.js';
import { errorResponses } from '../schemas.js';
import type { JobService } from '../job-service.js';
import { jobPath } from '../job-path.js';
import { scoped } from '../route-security.js';

/** Largest `POST /retries` body: 1,000 jobIds of 128 characters fit with room to spare. */
const RETRIES_BODY_LIMIT = 256 * 1024;

const retriesRoute = createRoute({
  method: 'post',
  path: '/retries',
  ...scoped(
    Scope.operator,
    bodyLimit({
      maxSize: RETRIES_BODY_LIMIT,
      onError: () => {
        throw new ApiError(413, ErrorCode.payloadTooLarge, `the body exceeds ${RETRIES_BODY_LIMIT} bytes`);
      },
    }),
  ),
  summary: 'Retry every job matching a filter',
  description:
    'Either `jobIds` (1-1000) or a filter of at least one of `status`, `handler`, `since`, `kind`. A filter matches jobs with failed resources ' +
    "(each job's latest run): of that status and handler, closed (running ones: started) at or after `since`; `kind` matches jobs completed with at " +
    'least one failure of that kind. More than 1000 matching jobs is 400: narrow the filter. Each matched job is retried as `POST /jobs/{jobId}/retry` ' +
    'would, 8 at a time; the answer comes when every job has its outcome. `dryRun` answers the match and retries nothing.',
  request: { body: { required: true, content: { 'application/json': { schema: RetriesRequestSchema } } } },
  responses: {
    202: { description: 'The matched jobs and what became of each', content: { 'application/json': { schema: RetriesResponseSchema } } },
    ...errorResponses(400, 401, 403, 413, 415, 503),
  },
});

/** `POST /retries`, bound to a JobService. */
export function retryRoutes(jobs: JobService) {
  return new OpenAPIHono<AppEnv>().openapi(retriesRoute, async (c) => {
    const { jobIds, dryRun, ...filter } = c.req.valid('json');
    const request = jobIds ? { jobIds } : { filter };
    const result = await jobs.retryMany({ ...request, ...(dryRun !== undefined ? { dryRun } : {}) }, c.get('logger'));
    const links = (jobId: string) => ({ self: jobPath(jobId) });
    return c.json({ ...result, jobs: result.jobs.map((j) => ({ ...j, links: links(j.jobId) })) }, 202);
  });
}
