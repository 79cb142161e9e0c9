import type { MiddlewareHandler } from 'hono';
import { ApiError, ErrorCode } from './api-error.js';
import type { AppEnv } from './app-env.js';
import { clientOf } from './client-identity.js';

/** Tracked clients at most per limiter; the least recently seen are forgotten beyond it. */
const MAX_CLIENTS = 10_000;

/** What a rate limit allows one client: `rate` requests per second on average, bursts of `burst`. */
export interface RateLimit {
  /** Requests per second per client; 0 = unlimited (the middleware passes everything). */
  rate: number;
  burst: number;
  /** What is counted, for the 429's message ("submits", "listings"). */
  what: string;
}

/**
 * Route middleware: a token bucket per client (the token's identity, or the peer address when
 * auth is off: `clientOf`, so it goes after the route's `requireScope`). Over the limit it answers
 * `429 rate_limited` with `Retry-After`. One instance shared by several routes gives them one
 * bucket per client. Per API process: with N API replicas a client gets N times the rate.
 */
export function rateLimit({ rate, burst, what }: RateLimit): MiddlewareHandler<AppEnv> {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return async (c, next) => {
    if (rate <= 0) return next();
    const key = clientOf(c);
    const now = performance.now();
    const bucket = buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    // Re-inserted so the map's order is least recently seen first.
    buckets.delete(key);
    buckets.set(key, bucket);
    if (buckets.size > MAX_CLIENTS) buckets.delete(buckets.keys().next().value!);
    if (bucket.tokens < 1) {
      const waitSeconds = Math.ceil((1 - bucket.tokens) / rate);
      throw new ApiError(429, ErrorCode.rateLimited, `more than ${rate} ${what} per second; retry in ${waitSeconds} s`).retryAfter(
        waitSeconds,
      );
    }
    bucket.tokens -= 1;
    return next();
  };
}

/** What a client is told to wait when it holds every stream it may: streams last until their job closes. */
const STREAM_RETRY_AFTER_SECONDS = 5;

/**
 * Route middleware for long-lived answers (the SSE stream): at most `max` open per client
 * (`clientOf`, after `requireScope`); one more answers `429 rate_limited` with `Retry-After`. A slot
 * is held until the answer's body ends: read to its end, or canceled because the client went away
 * (the request's signal aborts too). An answer that is not a stream (a 404 before the stream
 * began) frees its slot at once. `max` 0 = unlimited.
 */
export function concurrencyLimit({ max, what }: { max: number; what: string }): MiddlewareHandler<AppEnv> {
  const open = new Map<string, number>();
  return async (c, next) => {
    if (max <= 0) return next();
    const key = clientOf(c);
    const held = open.get(key) ?? 0;
    if (held >= max) {
      throw new ApiError(429, ErrorCode.rateLimited, `more than ${max} open ${what} for this client; close one first`).retryAfter(
        STREAM_RETRY_AFTER_SECONDS,
      );
    }
    open.set(key, held + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (open.get(key) ?? 1) - 1;
      if (n <= 0) open.delete(key);
      else open.set(key, n);
    };
    c.req.raw.signal.addEventListener('abort', release, { once: true });
    try {
      await next();
    } catch (err) {
      release();
      throw err;
    }
    const body = c.res.body;
    if (!body || !c.res.headers.get('content-type')?.startsWith('text/event-stream')) {
      release();
      return;
    }
    c.res = new Response(untilEnd(body, release), c.res);
  };
}

/** `body` passed through, calling `onEnd` once when it is read to its end, fails or is canceled. */
function untilEnd(body: ReadableStream<Uint8Array>, onEnd: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          onEnd();
          controller.close();
        } else controller.enqueue(value);
      } catch (err) {
        onEnd();
        controller.error(err);
      }
    },
    async cancel(reason) {
      onEnd();
      await reader.cancel(reason);
    },
  });
}
