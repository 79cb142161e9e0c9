import { z } from '@hono/zod-openapi';
import { HEADER_LIMITS, isConditionalRequestHeader, isRefusedRequestHeader } from '../../fetch/header-rules.js';
import { jobIdProblem, userKeyProblem } from '../../storage/keys.js';
import { storeNameSchema } from '../../config/store-settings.js';
import { NotifyEvent } from '../../model/constants.js';
import { MAX_WEBHOOK_URL_BYTES, webhookUrlProblem } from '../../config/webhook-settings.js';
import { issuePaths, MAX_LISTED_ISSUES, OMITTED_ISSUES } from '../api-error.js';
import { JobPriority } from './job-priority.js';
import { ManifestBounds, isPlainObject } from './manifest-limits.js';
import { JobIdSchema } from '../schemas.js';

/** A new job's id: a {@link JobIdSchema} that storage accepts as a key segment outside FetchBox's area. */
const NewJobIdSchema = JobIdSchema.superRefine((jobId, ctx) => {
  const problem = jobIdProblem(jobId);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `jobId ${problem}` });
});

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// eslint-disable-next-line no-control-regex
const HEADER_VALUE = /^[^\u0000-\u0008\u000a-\u001f\u007f]*$/;

/**
 * A resource's request headers. Validated by hand over the parsed JSON object: the count is
 * checked before any entry (a million entries answer one issue, not a million), `__proto__` stays
 * an ordinary name, and refused names (header-rules.ts) are named in the issue path.
 */
const HeadersSchema = z
  .unknown()
  .transform((raw, ctx) => {
    if (!isPlainObject(raw)) {
      ctx.addIssue({ code: 'custom', message: 'expected an object of header names to string values' });
      return z.NEVER;
    }
    const entries = Object.entries(raw);
    if (entries.length > HEADER_LIMITS.maxCount) {
      ctx.addIssue({ code: 'custom', message: `${entries.length} headers; at most ${HEADER_LIMITS.maxCount}` });
      return z.NEVER;
    }
    let bytes = 0;
    let valid = true;
    const refuse = (name: string, message: string) => {
      ctx.addIssue({ code: 'custom', path: [name], message });
      valid = false;
    };
    for (const [name, value] of entries) {
      if (!HEADER_NAME.test(name)) refuse(name, 'not a valid HTTP header name');
      else if (isRefusedRequestHeader(name))
        refuse(name, `${name} may not be set by a manifest (routing, framing and hop-by-hop headers are FetchBox's)`);
      else if (isConditionalRequestHeader(name))
        refuse(
          name,
          `${name} may not be set by a manifest: FetchBox stores whole representations and sets Range and conditional headers itself (recrawls, resumed downloads)`,
        );
      if (typeof value !== 'string') refuse(name, 'expected a string value');
      else if (!HEADER_VALUE.test(value)) refuse(name, 'header values may not contain CR, LF or control characters');
      else bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
    }
    if (bytes > HEADER_LIMITS.maxBytes) {
      ctx.addIssue({ code: 'custom', message: `${bytes} bytes of header names and values; at most ${HEADER_LIMITS.maxBytes}` });
      return z.NEVER;
    }
    return valid ? (Object.fromEntries(entries) as Record<string, string>) : z.NEVER;
  })
  .openapi({
    type: 'object',
    additionalProperties: { type: 'string' },
    maxProperties: HEADER_LIMITS.maxCount,
    description: `At most ${HEADER_LIMITS.maxCount} headers and ${HEADER_LIMITS.maxBytes} bytes of names plus values; Host, Connection, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade, Content-Length and Expect are refused, and so are Range, If-Range, If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since (FetchBox stores whole representations).`,
  });

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
      .openapi({ description: "Unique within the job; defaults to the resource's 0-based position." }),
    key: z
      .string()
      .superRefine((key, ctx) => {
        const problem = userKeyProblem(key);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `storage key ${problem}` });
      })
      .optional()
      .openapi({ description: 'Storage key; defaults to `<jobId>/<id>-<file name>`. No segment may start with `.fetchbox` (any case).' }),
    headers: HeadersSchema.optional(),
  })
  .openapi('Resource');
export type Resource = z.infer<typeof ResourceSchema>;

/**
 * The resources, validated one element at a time: at most `maxListedIssues` issues are kept and
 * the rest only counted (one issue carrying `params.omitted`), so a flood of bad elements costs
 * neither a stack overflow (zod spreads child issues into its parent's) nor a huge answer.
 */
const ResourcesSchema = z
  .array(z.unknown())
  .min(1)
  .max(ManifestBounds.maxResources)
  .transform((items, ctx) => {
    const out: Resource[] = [];
    let listed = 0;
    let omitted = 0;
    for (let i = 0; i < items.length; i++) {
      const parsed = ResourceSchema.safeParse(items[i]);
      if (parsed.success) {
        if (listed + omitted === 0) out.push(parsed.data);
        continue;
      }
      for (const issue of parsed.error.issues.flatMap(issuePaths)) {
        if (listed >= MAX_LISTED_ISSUES) {
          omitted++;
          continue;
        }
        ctx.addIssue({
          code: 'custom',
          path: [i, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))],
          message: issue.message,
        });
        listed++;
      }
    }
    if (omitted > 0) ctx.addIssue({ code: 'custom', message: `${omitted} more issues`, params: { [OMITTED_ISSUES]: omitted } });
    return listed + omitted > 0 ? z.NEVER : out;
  })
  .openapi({
    type: 'array',
    items: { $ref: '#/components/schemas/Resource' },
    minItems: 1,
    description: 'At most `limits.maxResourcesPerJob` (100,000 by default).',
  });

/** A manifest's metadata: any JSON object, at most `limits.maxMetadataBytes` serialized and 64 levels deep. */
const MetadataSchema = z
  .unknown()
  .transform((raw, ctx) => {
    if (!isPlainObject(raw)) {
      ctx.addIssue({ code: 'custom', message: 'expected an object' });
      return z.NEVER;
    }
    return raw;
  })
  .openapi({
    type: 'object',
    additionalProperties: true,
    description: 'At most `limits.maxMetadataBytes` (64 KiB by default) as JSON, nested at most 64 levels.',
  });

/** A manifest's completion webhook (docs/jobs.md#completion-webhooks). */
const NotifySchema = z
  .strictObject({
    url: z
      .string()
      .max(MAX_WEBHOOK_URL_BYTES)
      .superRefine((value, ctx) => {
        const problem = webhookUrlProblem(value);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      })
      .openapi({
        example: 'https://crawler.example.com/fetchbox-hook',
        description: `Absolute http or https, at most ${MAX_WEBHOOK_URL_BYTES} bytes, no credentials.`,
      }),
    events: z
      .array(z.enum(NotifyEvent))
      .min(1)
      .max(Object.keys(NotifyEvent).length)
      .refine((events) => new Set(events).size === events.length, 'each event at most once')
      .optional()
      .openapi({ description: 'The closing statuses that are reported; all three when absent.' }),
  })
  .openapi('Notify', {
    description:
      "When the job closes with one of `events`, FetchBox POSTs its summary (with `type`, the event) to `url`, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with FETCHBOX_WEBHOOK_SECRET, retried for `webhooks.retryWindow` (24 h by default). Part of the manifest's identity only when given. Refused (400) when the server has no webhook secret.",
  });

/** The manifest a crawler POSTs. Configured limits (resource count, metadata size) are checked before it. */
export const ManifestSchema = z
  .strictObject({
    jobId: NewJobIdSchema.optional(),
    handler: z.string().min(1).max(128).default('default'),
    metadata: MetadataSchema.optional(),
    store: storeNameSchema.optional().openapi({
      description:
        "A configured store name for the job's objects; accepted only when the handler's policy lists it in `allowedStores`. Never a URL or credentials.",
    }),
    priority: z.number().int().min(JobPriority.highest).max(JobPriority.lowest).optional().openapi({
      default: JobPriority.default,
      description:
        "1 (highest) to 5 (lowest), 3 when absent: the job's tasks run before those of lower priority on the same workers (Temporal's task queue priority). Part of the manifest's identity only when given.",
    }),
    notify: NotifySchema.optional(),
    resources: ResourcesSchema,
  })
  .openapi('Manifest');
export type Manifest = z.infer<typeof ManifestSchema>;
