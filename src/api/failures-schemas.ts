import { z } from '@hono/zod-openapi';
import { RetryOutcome } from './failures/bulk-retry.js';
import {
  CursorQuerySchema,
  ErrorKindSchema,
  HandlerNameSchema,
  JobIdSchema,
  JobStatusSchema,
  LimitQuerySchema,
  pageSchema,
} from './schemas.js';

/**
 * An ISO 8601 time (`2026-11-28T01:00:00Z`, with an offset, or a date: midnight UTC), answered as the
 * same instant in UTC with milliseconds, the form visibility queries compare.
 */
export const IsoTimeSchema = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()])
  .transform((text) => new Date(text).toISOString())
  .openapi({ type: 'string', format: 'date-time', example: '2026-11-28T01:00:00Z' });

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
