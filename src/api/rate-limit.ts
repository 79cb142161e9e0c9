import type { MiddlewareHandler } from 'hono';
import { ApiError, ErrorCode } from './api-error.js';

/** Tracked clients at most; the least recently seen are forgotten beyond it. */
const MAX_CLIENTS = 10_000;

/**
 * A token bucket per client for `POST /jobs`: `rate` submits per second on average, bursts of
 * `burst`. The client is the bearer token (or the peer address when auth is off). Over the limit
 * answers `429 rate_limited` with `Retry-After`. Per API process: with N API replicas a client
 * may submit N times the rate.
 */
export function submitRateLimit(rate: number, burst: number, clientOf: (c: Parameters<MiddlewareHandler>[0]) => string): MiddlewareHandler {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return async (c, next) => {
    if (rate <= 0 || c.req.method !== 'POST' || c.req.path !== '/jobs') return next();
    const key = clientOf(c);
    const now = performance.now();
    const bucket = buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    buckets.delete(key);
    buckets.set(key, bucket);
    if (buckets.size > MAX_CLIENTS) buckets.delete(buckets.keys().next().value!);
    if (bucket.tokens < 1) {
      const waitSeconds = Math.ceil((1 - bucket.tokens) / rate);
      c.header('Retry-After', String(waitSeconds));
      throw new ApiError(429, ErrorCode.rateLimited, `more than ${rate} submits per second; retry in ${waitSeconds} s`);
    }
    bucket.tokens -= 1;
    return next();
  };
}
