import { Agent, request } from 'undici';
import type { Config } from '../config/config-schema.js';
import { createAddressGuard } from './address-guard.js';
import { classifyNetworkError, ErrorKind, FetchFailure } from './errors.js';
import { guardedConnector } from './guarded-connector.js';
import { parseRetryAfter } from './response.js';

/** Most bytes of a receiver's answer that are read (and dropped); the rest closes the connection. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** One webhook request: a JSON body POSTed with its signature headers. */
export interface WebhookPost {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The whole exchange's deadline, connect to the last byte of the answer read. */
  timeoutMs: number;
}

/** What the receiver answered. */
export interface WebhookAnswer {
  status: number;
  retryAfterMs?: number;
}

/** `scheme://host[:port]` of a URL: what messages name (the path or query may carry the receiver's token). */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the webhook URL';
  }
}

/**
 * POSTs a webhook through the same SSRF guard as downloads (the guarded connector with
 * `fetch.allowCidrs`: a refused address fails before any socket is opened) on a connection of its
 * own, closed afterwards (webhooks are one per job). Redirects are not followed: the answer is
 * returned as it is. Throws a classified FetchFailure (`blocked_address` permanent; timeouts and
 * connection errors retryable) whose message names only the URL's origin.
 */
export async function postWebhook(
  post: WebhookPost,
  fetchConfig: Pick<Config['fetch'], 'allowCidrs' | 'connectTimeoutMs' | 'userAgent'>,
): Promise<WebhookAnswer> {
  const origin = originOf(post.url);
  const agent = new Agent({
    connect: guardedConnector(createAddressGuard(fetchConfig.allowCidrs), Math.min(fetchConfig.connectTimeoutMs, post.timeoutMs)),
    headersTimeout: post.timeoutMs,
    bodyTimeout: post.timeoutMs,
    connections: 1,
  });
  const signal = AbortSignal.timeout(post.timeoutMs);
  try {
    const res = await request(post.url, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'user-agent': fetchConfig.userAgent, ...post.headers },
      body: post.body,
      signal,
    });
    await res.body.dump({ limit: MAX_ANSWER_BYTES }).catch(() => undefined);
    const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
    return { status: res.statusCode, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  } catch (err) {
    if (signal.aborted) {
      throw new FetchFailure(ErrorKind.timeout, `no answer from ${origin} within ${post.timeoutMs} ms`, true, { url: origin, cause: err });
    }
    const failure = classifyNetworkError(err, origin);
    throw new FetchFailure(failure.kind, failure.message.split(post.url).join(origin), failure.retryable, { url: origin, cause: err });
  } finally {
    await agent.destroy().catch(() => undefined);
  }
}
