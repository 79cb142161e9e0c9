import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { parseDurationMs } from './duration.js';

/** Longest webhook URL a manifest or the configuration may give (bytes of the URL as written). */
export const MAX_WEBHOOK_URL_BYTES = 2048;

/**
 * The problem with a webhook URL, or undefined when it is usable: absolute `http`/`https` with a
 * host, at most {@link MAX_WEBHOOK_URL_BYTES}, and no credentials in it (they would travel in
 * history and logs; a receiver authenticates FetchBox by the signature). One rule for the
 * manifest's `notify.url` and `FETCHBOX_WEBHOOK_DEFAULT_URL`.
 */
export function webhookUrlProblem(value: string): string | undefined {
  if (Buffer.byteLength(value) > MAX_WEBHOOK_URL_BYTES) return `at most ${MAX_WEBHOOK_URL_BYTES} bytes`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') return 'must be an absolute http or https URL';
  if (url.username !== '' || url.password !== '') return 'may not carry credentials (user:password@); receivers verify the signature';
  return undefined;
}

/**
 * A Standard Webhooks secret: `whsec_` and the base64 of 24 to 64 random bytes (as the
 * specification recommends; `openssl rand -base64 32`, prefixed).
 */
const secretSchema = z.string().refine((value) => {
  const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(value);
  if (!m) return false;
  const bytes = Buffer.from(m[1]!, 'base64').length;
  return bytes >= 24 && bytes <= 64;
}, 'expected whsec_ followed by the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32))');

/**
 * Completion webhooks (docs/jobs.md#completion-webhooks): the signing secret, an optional default
 * receiver for jobs whose manifest names none, and the delivery policy a job is given at submit.
 */
export const webhooksSchema = z
  .object({
    /** Signs every webhook (HMAC-SHA256); the API refuses `notify` without it, workers need it to deliver. */
    secret: secretSchema.optional(),
    /** Receiver of every job without a manifest `notify` (all three events); unset: none. */
    defaultUrl: z
      .string()
      .superRefine((value, ctx) => {
        const problem = webhookUrlProblem(value);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    /** One request's deadline, connect to answer. */
    timeoutMs: z.coerce.number().int().min(100).max(60_000).default(10_000),
    /** How long a delivery is retried (backoff from 1 s doubling to 10 min) before it is given up. */
    retryWindow: z
      .string()
      .default('24h')
      .transform((text, ctx) => {
        const value = parseDurationMs(text);
        if (value === undefined || value < 1_000 || value > 7 * 86_400_000) {
          ctx.addIssue({ code: 'custom', message: `expected a duration from 1s to 7d such as 24h or 90m, got ${JSON.stringify(text)}` });
          return z.NEVER;
        }
        return value;
      }),
  })
  .refine((w) => w.defaultUrl === undefined || w.secret !== undefined, {
    message: 'a default webhook URL needs FETCHBOX_WEBHOOK_SECRET',
    path: ['defaultUrl'],
  })
  .prefault({});

/** The file under the data dir where `fetchbox dev` keeps its webhook secret. */
export const DEV_WEBHOOK_SECRET_FILE = 'webhook-secret';

/**
 * `fetchbox dev`'s webhook secret when FETCHBOX_WEBHOOK_SECRET is unset: read from
 * `<dataDir>/webhook-secret`, or generated there (`whsec_` and 32 random bytes, mode 0600) on the
 * first start, so a receiver keeps verifying across restarts of the dev stack.
 */
export async function devWebhookSecret(dataDir: string): Promise<{ secret: string; file: string; created: boolean }> {
  const file = path.join(dataDir, DEV_WEBHOOK_SECRET_FILE);
  const kept = await readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => '',
  );
  if (/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(kept)) return { secret: kept, file, created: false };
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return { secret, file, created: true };
}
