import { z } from '@hono/zod-openapi';
import { keyProblem } from '../storage/keys.js';

/** 1–128 characters of `[A-Za-z0-9._:-]`: the contract's jobId. */
export const JobIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, 'use 1-128 characters of A-Z a-z 0-9 . _ : -')
  .openapi({ example: 'crawl-2026-11-22-0001' });

const HeaderName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid HTTP header name');
// eslint-disable-next-line no-control-regex
const HeaderValue = z.string().max(8192).regex(/^[^\u0000-\u0008\u000a-\u001f\u007f]*$/, 'header values may not contain CR, LF or control characters');

const HttpUrl = z
  .string()
  .max(8192)
  .refine((value) => {
    try {
      const u = new URL(value);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an absolute http or https URL');

/** One resource of a manifest. */
export const ResourceSchema = z
  .strictObject({
    url: HttpUrl.openapi({ example: 'https://example.com/a.jpg' }),
    id: z
      .string()
      .min(1)
      .max(256)
      // eslint-disable-next-line no-control-regex
      .regex(/^[^\u0000-\u001f\u007f]+$/, 'may not contain control characters')
      .optional()
      .openapi({ description: 'Unique within the job; defaults to the resource\'s 0-based position.' }),
    key: z
      .string()
      .superRefine((key, ctx) => {
        const problem = keyProblem(key);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `storage key ${problem}` });
      })
      .optional()
      .openapi({ description: 'Storage key; defaults to `<jobId>/<id>-<file name>`.' }),
    headers: z.record(HeaderName, HeaderValue).optional(),
  })
  .openapi('Resource');

/** The manifest a crawler POSTs. Resource count limits are checked against configuration. */
export const ManifestSchema = z
  .strictObject({
    jobId: JobIdSchema.optional(),
    handler: z.string().min(1).max(128).default('default'),
    metadata: z.record(z.string(), z.unknown()).optional(),
    resources: z.array(ResourceSchema).min(1),
  })
  .openapi('Manifest');
export type Manifest = z.infer<typeof ManifestSchema>;

/** The error body every failure answers with. */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'invalid_manifest' }),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi('Error');

/** The contract's job statuses. */
export const JobStatusSchema = z.enum(['running', 'completed', 'completed_with_failures', 'failed', 'canceled', 'terminated', 'timed_out']);

/** Links every job response carries. */
const LinksSchema = z.object({ self: z.string(), temporalUi: z.string() });

/** Answer to a submit: the job and where to look at it. */
export const SubmitResponseSchema = z
  .object({ jobId: z.string(), status: JobStatusSchema, links: LinksSchema })
  .openapi('SubmitResponse');

/** Answer to a retry request. */
export const RetryResponseSchema = z
  .object({ jobId: z.string(), status: JobStatusSchema, retrying: z.boolean(), links: LinksSchema })
  .openapi('RetryResponse');

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
    links: LinksSchema,
  })
  .openapi('JobSummary');

/** One resource's state. */
export const ResourceStateSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    key: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed']),
    attempts: z.number().int(),
    bytes: z.number().int().optional(),
    sha256: z.string().optional(),
    contentType: z.string().optional(),
    error: z
      .object({
        kind: z.enum(['http_status', 'retries_exhausted', 'blocked_address', 'too_large', 'timeout', 'truncated', 'storage', 'handler', 'invalid_url']),
        message: z.string(),
        httpStatus: z.number().int().optional(),
      })
      .optional(),
  })
  .openapi('ResourceState');

/** A page of resource states. */
export const ResourcesPageSchema = z
  .object({ items: z.array(ResourceStateSchema), nextCursor: z.string().nullable() })
  .openapi('ResourcesPage');

/** A page of jobs from `GET /jobs`. */
export const JobListSchema = z
  .object({ items: z.array(JobSummarySchema), nextCursor: z.string().nullable() })
  .openapi('JobList');
