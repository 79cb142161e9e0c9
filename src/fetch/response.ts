/**
 * The response side of a fetch: what an origin answered (status, length, validator and range
 * headers, Retry-After) read as the contract says; the request side is fetcher.ts.
 */
import type { Dispatcher } from 'undici';
import { isRetryableHttpStatus } from '../model/failure-rules.js';
import { ErrorKind, FetchFailure } from './errors.js';

/** An open response whose body has not been read yet; the caller must consume or destroy it. */
export interface OpenResponse {
  /** The URL the body came from, after redirects. */
  url: string;
  status: number;
  /** undici's body: a Readable; use `dump()` (not `destroy()`) to drop it. */
  body: Dispatcher.ResponseData['body'];
  /** From Content-Length, when the origin sent one. */
  contentLength?: number;
  contentType?: string;
  redirects: number;
  /** Raw `ETag` / `Last-Modified` of the response (untrusted: clean them with validators.ts). */
  etag?: string;
  lastModified?: string;
  /** Raw `Accept-Ranges` and `Content-Range` (a 206 answers a `Range` request). */
  acceptRanges?: string;
  contentRange?: string;
  /** Raw `Content-Encoding`: a resumed body must continue the same encoding of the same representation. */
  contentEncoding?: string;
}

/** A Retry-After longer than this is clamped: a resource should not sleep for days. */
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/** Parses Retry-After (delta-seconds or an HTTP date); garbage yields undefined. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at) || !/[a-z]/i.test(text)) return undefined;
    ms = at - now;
  }
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** The first value of a response header. */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The validator, range and encoding headers of a response, those it sent. */
function rangeHeaders(
  answer: Dispatcher.ResponseData['headers'],
): Pick<OpenResponse, 'etag' | 'lastModified' | 'acceptRanges' | 'contentRange' | 'contentEncoding'> {
  const out: Pick<OpenResponse, 'etag' | 'lastModified' | 'acceptRanges' | 'contentRange' | 'contentEncoding'> = {};
  const etag = headerValue(answer.etag);
  const lastModified = headerValue(answer['last-modified']);
  const acceptRanges = headerValue(answer['accept-ranges']);
  const contentRange = headerValue(answer['content-range']);
  const contentEncoding = headerValue(answer['content-encoding']);
  if (etag !== undefined) out.etag = etag;
  if (lastModified !== undefined) out.lastModified = lastModified;
  if (acceptRanges !== undefined) out.acceptRanges = acceptRanges;
  if (contentRange !== undefined) out.contentRange = contentRange;
  if (contentEncoding !== undefined) out.contentEncoding = contentEncoding;
  return out;
}

/** Drops a body we will not store; small ones are read so the connection can be reused. */
export async function discard(body: Dispatcher.ResponseData['body']): Promise<void> {
  await body.dump({ limit: 64 * 1024 }).catch(() => undefined);
}

/**
 * An origin's final answer (not a redirect) as the contract reads it: a non-2xx status fails
 * (408/425/429/5xx retryable, with Retry-After; other statuses permanent), a Content-Length over
 * `maxBytes` fails as too large before any byte is read; anything else opens, with its length,
 * type, validator, range and encoding headers. A refused answer's body is dropped here.
 */
export async function answerOf(res: Dispatcher.ResponseData, url: string, redirects: number, maxBytes: number): Promise<OpenResponse> {
  const { statusCode: status, headers: answer } = res;
  if (status < 200 || status >= 300) {
    await discard(res.body);
    const retryable = isRetryableHttpStatus(status);
    const retryAfterMs = retryable ? parseRetryAfter(answer['retry-after']) : undefined;
    throw new FetchFailure(ErrorKind.httpStatus, `HTTP ${status} from ${url}`, retryable, {
      url,
      httpStatus: status,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }
  const lengthHeader = headerValue(answer['content-length']);
  const contentLength = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  if (contentLength !== undefined && contentLength > maxBytes) {
    await discard(res.body);
    throw new FetchFailure(ErrorKind.tooLarge, `Content-Length ${contentLength} exceeds the limit of ${maxBytes} bytes`, false, {
      url,
      httpStatus: status,
    });
  }
  const contentType = headerValue(answer['content-type']);
  return {
    url,
    status,
    body: res.body,
    redirects,
    ...(contentLength !== undefined ? { contentLength } : {}),
    ...(contentType !== undefined ? { contentType } : {}),
    ...rangeHeaders(answer),
  };
}
