import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { ApiError, ErrorCode } from '../api-error.js';
import type { AppEnv } from '../app-env.js';
import { Scope } from '../auth.js';
import {
  ErrorKindSchema,
  errorResponses,
  HandlerNameSchema,
  IsoTimeSchema,
  JobIdSchema,
  JobParamsSchema,
  JobStatusSchema,
  RetryResponseSchema,
  SubmitResponseSchema,
} from '../schemas.js';
import { RetryOutcome } from './bulk-retry.js';
import type { JobService } from '../job-service.js';
import { jobLinks, jobPath } from '../job-path.js';
import { scoped } from '../route-security.js';

/** Most jobs one `POST /retries` names. */
export const MAX_RETRY_JOB_IDS = 1000;

/** Body of `POST /retries`: `jobIds`, or a filter of at least one field; never both. */
export const RetriesRequestSchema = z
  .strictObject({
    jobIds: z.array(JobIdSchema).min(1).max(MAX_RETRY_JOB_IDS).optional(),
    status: JobStatusSchema.optional(),
    handler: HandlerNameSchema.optional(),
    since: IsoTimeSchema.optional().openapi({ description: 'Jobs closed (running ones: started) at or after this time.' }),
    kind: ErrorKindSchema.optional().openapi({ description: 'Jobs completed with at least one failure of this kind.' }),
    dryRun: z.boolean().optional().openapi({ description: 'Answer what matches; retry nothing.' }),
  })
  .superRefine((body, ctx) => {
    const filtered = body.status !== undefined || body.handler !== undefined || body.since !== undefined || body.kind !== undefined;
    if (body.jobIds !== undefined && filtered) {
      ctx.addIssue({
        code: 'custom',
        path: ['jobIds'],
        message: 'send either jobIds or a filter (status, handler, since, kind), not both',
      });
    } else if (body.jobIds === undefined && !filtered) {
      ctx.addIssue({ code: 'custom', path: [], message: 'send jobIds or a filter with at least one of status, handler, since, kind' });
    }
  })
  .openapi('RetriesRequest');
export type RetriesRequest = z.infer<typeof RetriesRequestSchema>;

const OutcomeSchema = z.enum(RetryOutcome);

/** Answer of `POST /retries`. */
export const RetriesResponseSchema = z
  .object({
    batchId: z.string().openapi({ description: 'Names this request in the API log.' }),
    dryRun: z.boolean(),
    matched: z.number().int(),
    retried: z.number().int(),
    skipped: z.record(z.string(), z.number().int()).openapi({ description: 'Matched jobs not retried, counted by outcome.' }),
    jobs: z.array(
      z.object({
        jobId: z.string(),
        outcome: OutcomeSchema,
        status: JobStatusSchema.optional(),
        message: z.string().optional(),
        links: z.object({ self: z.string() }),
      }),
    ),
  })
  .openapi('RetriesResponse');

const retryRoute = createRoute({
  method: 'post',
  path: '/jobs/{jobId}/retry',
  ...scoped(Scope.operator),
  summary: "Download the job's failed resources again",
  description:
    'A running job runs a retry round after its current pass; a closed job with failures starts a new run of the same workflow id that retries only them. `retrying` is false when there was nothing to retry. Canceled, failed, terminated and timed-out jobs answer 409 job_not_retryable.',
  request: { params: JobParamsSchema },
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
  request: { params: JobParamsSchema },
  responses: {
    202: { description: 'Cancellation requested', content: { 'application/json': { schema: SubmitResponseSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

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

/**
 * What an operator does to jobs (scope `operator`): `POST /jobs/{jobId}/retry`,
 * `POST /jobs/{jobId}/cancel` and `POST /retries`, bound to a JobService.
 */
export function operatorRoutes(jobs: JobService) {
  return new OpenAPIHono<AppEnv>()
    .openapi(retryRoute, async (c) => {
      const { jobId } = c.req.valid('param');
      const { status, retrying } = await jobs.retry(jobId);
      return c.json({ jobId, status, retrying, links: jobLinks(jobs, jobId) }, 202);
    })
    .openapi(cancelRoute, async (c) => {
      const { jobId } = c.req.valid('param');
      // `running` when the cancellation was requested now; `canceled` when the job already was.
      const { status } = await jobs.cancel(jobId);
      return c.json({ jobId, status, links: jobLinks(jobs, jobId) }, 202);
    })
    .openapi(retriesRoute, async (c) => {
      const { jobIds, dryRun, ...filter } = c.req.valid('json');
      const request = jobIds ? { jobIds } : { filter };
      const result = await jobs.retryMany({ ...request, ...(dryRun !== undefined ? { dryRun } : {}) }, c.get('logger'));
      const links = (jobId: string) => ({ self: jobPath(jobId) });
      return c.json({ ...result, jobs: result.jobs.map((j) => ({ ...j, links: links(j.jobId) })) }, 202);
    });
}
