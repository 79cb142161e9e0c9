/**
 * The schemas every room of the API shares: ids, statuses, the error body, the listings' `limit`,
 * `cursor` and page shape, and the answers the typed client reads. The manifest's own schema is
 * src/api/submit/manifest-schema.ts.
 */
import { z } from '@hono/zod-openapi';
import { ErrorKind, JobStatus, NotifyStatus, ResourceStatus } from '../model/constants.js';
import { CURSOR_PATTERN, MAX_CURSOR_LENGTH } from './cursor.js';

/** The characters of a jobId (the contract's) and of a handler name filter: `[A-Za-z0-9._:-]`, one rule. */
export const JOB_ID_CHARS = /^[A-Za-z0-9._:-]+$/;

/** 1–128 characters of `[A-Za-z0-9._:-]`: the contract's jobId (also in paths, for existing jobs). */
export const JobIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(JOB_ID_CHARS, 'use 1-128 characters of A-Z a-z 0-9 . _ : -')
  .openapi({ example: 'crawl-2026-11-22-0001' });

/**
 * An ISO 8601 time (`2026-11-28T01:00:00Z`, with an offset, or a date: midnight UTC), answered as the
 * same instant in UTC with milliseconds, the form visibility queries compare.
 */
export const IsoTimeSchema = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()])
  .transform((text) => new Date(text).toISOString())
  .openapi({ type: 'string', format: 'date-time', example: '2026-11-28T01:00:00Z' });

/** The `{jobId}` path parameter of every route under `/jobs/{jobId}`. */
export const JobParamsSchema = z.object({ jobId: JobIdSchema.openapi({ param: { name: 'jobId', in: 'path' } }) });

/** A handler name as the list filters take it (`GET /jobs`, `GET /failures`, `POST /retries`). */
export const HandlerNameSchema = z.string().min(1).max(128).regex(JOB_ID_CHARS, 'use 1-128 characters of A-Z a-z 0-9 . _ : -');

/** The error body every failure answers with (api-error.ts builds it). */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'invalid_manifest' }),
      message: z.string(),
      details: z.unknown().optional(),
      moreIssues: z
        .number()
        .int()
        .optional()
        .openapi({ description: 'Issues of a 400 not listed in `details` (which lists at most 100).' }),
    }),
  })
  .openapi('Error');

/** OpenAPI error responses with the contract's error body, by status: every route lists its own. */
export function errorResponses(...codes: number[]) {
  return Object.fromEntries(
    codes.map((code) => [code, { description: 'Error', content: { 'application/json': { schema: ErrorSchema } } }]),
  );
}

/** The `limit` query parameter of every paginated listing: 1 to 1000, 100 when absent. */
export const LimitQuerySchema = z.coerce.number().int().min(1).max(1000).default(100);

/**
 * The `cursor` query parameter of every paginated listing: the characters and length of a cursor
 * the API hands out (cursor.ts checks its signature, listing and filters).
 */
export const CursorQuerySchema = z.string().max(MAX_CURSOR_LENGTH).regex(CURSOR_PATTERN, 'not a cursor returned by this API').optional();

/** A page of a listing: `items` and the cursor of the next page (null on the last), the contract's page shape. */
export function pageSchema<T extends z.ZodType>(item: T, name: string) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() }).openapi(name);
}

// Enums built from the `as const` objects of src/model/constants.ts: one list of each, the
// OpenAPI document lists the same values in the same order.

/** The contract's job statuses. */
export const JobStatusSchema = z.enum(JobStatus);

/** The contract's resource statuses (also the `status` filter of the resource listing). */
export const ResourceStatusSchema = z.enum(ResourceStatus);

/** The contract's error kinds (a failed resource's `error.kind`). */
export const ErrorKindSchema = z.enum(ErrorKind).openapi({ example: ErrorKind.httpStatus });

/** Links every job response carries. */
const LinksSchema = z.object({ self: z.string(), temporalUi: z.string() });

/** Answer to a submit: the job and where to look at it. */
export const SubmitResponseSchema = z.object({ jobId: z.string(), status: JobStatusSchema, links: LinksSchema }).openapi('SubmitResponse');

/** Answer to a retry request. */
export const RetryResponseSchema = z
  .object({ jobId: z.string(), status: JobStatusSchema, retrying: z.boolean(), links: LinksSchema })
  .openapi('RetryResponse');

/** Where a job's completion webhook stands (jobs with `notify` only). */
const NotifyStateSchema = z
  .object({
    status: z.enum(NotifyStatus),
    webhookId: z.string().optional().openapi({ description: 'The `webhook-id` every attempt of this delivery carries.' }),
    attempts: z.number().int().optional(),
    lastError: z.string().optional().openapi({ description: "The latest attempt's failure (names the receiver's origin only)." }),
  })
  .openapi('NotifyState', {
    description:
      '`waiting` while the job works; `pending` while its webhook is delivered (the job still reads `running`: it closes after delivery or give-up); `delivered`; `failed` (given up: 410 Gone, a refused address, the retry window spent); `skipped` (the closing status is not among `events`, or the job failed or was terminated).',
  });

/** The job summary of `GET /jobs/{jobId}`. */
export const JobSummarySchema = z
  .object({
    jobId: z.string(),
    handler: z.string(),
    status: JobStatusSchema,
    resources: z.object({ total: z.number().int(), succeeded: z.number().int(), failed: z.number().int(), pending: z.number().int() }),
    bytes: z.number().int(),
    startedAt: z.string(),
    closedAt: z.string().optional(),
    notify: NotifyStateSchema.optional(),
    links: LinksSchema,
  })
  .openapi('JobSummary');

/** One resource's state. */
export const ResourceStateSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    key: z.string(),
    status: ResourceStatusSchema,
    attempts: z.number().int(),
    bytes: z.number().int().optional(),
    sha256: z.string().optional(),
    contentType: z.string().optional(),
    notModified: z
      .boolean()
      .optional()
      .openapi({ description: 'True when the origin answered 304 Not Modified and the stored object was kept.' }),
    store: z.string().optional().openapi({ description: 'The configured store holding the object (or meant to); absent means `default`.' }),
    error: z
      .object({
        kind: ErrorKindSchema,
        message: z.string(),
        httpStatus: z.number().int().optional(),
      })
      .optional(),
  })
  .openapi('ResourceState');

/** A page of resource states. */
export const ResourcesPageSchema = pageSchema(ResourceStateSchema, 'ResourcesPage');

/** A page of jobs from `GET /jobs`. */
export const JobListSchema = pageSchema(JobSummarySchema, 'JobList');
