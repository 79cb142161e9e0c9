import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { ApiError, ErrorCode, issuesError } from './api-error.js';
import type { AppEnv } from './app-env.js';
import { manifestLimitIssues, type ManifestLimits } from './manifest-limits.js';
import { rateLimit } from './rate-limit.js';

/** What the submit route checks before its schema sees the manifest. */
export interface SubmitGuardOptions {
  bodyLimitBytes: number;
  /** Submits per second per client; 0 = unlimited. */
  submitRate: number;
  submitBurst: number;
  limits: ManifestLimits;
}

function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  const type = value.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/**
 * `POST /jobs` middleware after its scope check, in order: the per-client rate limit (429, keyed on
 * the token's identity or the peer address, rate-limit.ts), JSON
 * content type (415), the body size limit (413), then the configured manifest limits on the parsed
 * body (400), before the schema looks at a single resource.
 */
export function submitGuards(options: SubmitGuardOptions): MiddlewareHandler<AppEnv>[] {
  const { bodyLimitBytes, submitRate, submitBurst, limits } = options;
  const contentType: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (!isJsonContentType(c.req.header('content-type'))) {
      throw new ApiError(415, ErrorCode.unsupportedMediaType, 'send the manifest as application/json');
    }
    await next();
  };
  const size = bodyLimit({
    maxSize: bodyLimitBytes,
    onError: () => {
      throw new ApiError(413, ErrorCode.payloadTooLarge, `the body exceeds ${bodyLimitBytes} bytes`);
    },
  });
  const manifestLimits: MiddlewareHandler<AppEnv> = async (c, next) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch (err) {
      if (err instanceof ApiError || err instanceof HTTPException) throw err;
      throw new ApiError(400, ErrorCode.invalidManifest, 'the body is not valid JSON');
    }
    const issues = manifestLimitIssues(body, limits);
    if (issues.length > 0) throw issuesError(ErrorCode.invalidManifest, 'the manifest exceeds a limit', issues);
    // Hono's req.json() parses the cached text again on every call: the route's validator gets
    // this parse instead (a 100,000-resource manifest is ~60 ms of JSON.parse on the event loop).
    const parsed = body;
    (c.req as { json: () => Promise<unknown> }).json = () => Promise.resolve(parsed);
    await next();
  };
  return [rateLimit({ rate: submitRate, burst: submitBurst, what: 'submits' }), contentType, size, manifestLimits];
}
