import { Context } from '@temporalio/activity';
import { classifyNetworkError, ErrorKind, FetchFailure } from '../fetch/errors.js';
import type { Fetcher } from '../fetch/fetcher.js';
import type { FetchedText, HandlerContext } from './handler.js';

/** Largest document `ctx.fetchText` reads by default (8 MiB). */
export const DEFAULT_TEXT_MAX_BYTES = 8 * 1024 * 1024;
/** Default total time for one `ctx.fetchText`: connecting, redirects, headers and the whole body. */
export const DEFAULT_TEXT_DEADLINE_MS = 30_000;

/** What the handler fetch needs: the worker's fetcher and its limits. */
export interface FetchTextDeps {
  fetcher: Fetcher;
  /** Most body bytes read; more is an error (`too_large`), never a truncated text. */
  maxBytes?: number;
  /** Total deadline of one call in ms, headers and body included (`timeout`). */
  deadlineMs?: number;
  /**
   * The signal that cancels a call, looked up per call. Defaults to the running activity's
   * cancellation signal (none outside an activity).
   */
  signal?: () => AbortSignal | undefined;
}

/** The running activity's cancellation signal, or undefined outside an activity. */
export function activityCancellation(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/** Reads a body to the end, refusing (not truncating) more than `maxBytes`. */
function readCapped(body: Awaited<ReturnType<Fetcher['open']>>['body'], maxBytes: number, url: string): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    const settle = (err: unknown, value?: Buffer) => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      if (err === undefined) resolve(value!);
      else reject(err);
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        body.pause();
        settle(new FetchFailure(ErrorKind.tooLarge, `too_large: ${url} sent more than ${maxBytes} bytes`, false, { url }));
        return;
      }
      chunks.push(chunk);
    };
    body.on('data', onData);
    // The error listener stays for the body's whole life: a late destroy must never be unhandled.
    body.on('error', (err: Error) => settle(err));
    body.once('end', () => settle(undefined, Buffer.concat(chunks, bytes)));
  });
}

/**
 * Builds `ctx.fetchText` for handlers: FetchBox's fetcher (address guard, redirect limit,
 * origin-bound headers) plus a byte cap enforced while the body streams, a total deadline,
 * and cancellation by the activity. A refused or failed fetch throws a FetchFailure whose
 * message starts with its kind (`too_large`, `timeout`, `http_status`, ...).
 */
export function createFetchText({
  fetcher,
  maxBytes = DEFAULT_TEXT_MAX_BYTES,
  deadlineMs = DEFAULT_TEXT_DEADLINE_MS,
  signal = activityCancellation,
}: FetchTextDeps): HandlerContext['fetchText'] {
  return async function fetchText(url: string, init?: { headers?: Record<string, string> }): Promise<FetchedText> {
    const cancel = signal();
    cancel?.throwIfAborted();
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new FetchFailure(ErrorKind.timeout, `timeout: ${url} took longer than ${deadlineMs} ms`, true, { url })),
      deadlineMs,
    );
    const onCancel = () => deadline.abort(cancel?.reason ?? new Error('canceled'));
    cancel?.addEventListener('abort', onCancel, { once: true });
    let res: Awaited<ReturnType<Fetcher['open']>> | undefined;
    try {
      res = await fetcher.open({ url, maxBytes, signal: deadline.signal, ...(init?.headers ? { headers: init.headers } : {}) });
      const text = (await readCapped(res.body, maxBytes, url)).toString('utf8');
      return { url: res.url, status: res.status, text, ...(res.contentType ? { contentType: res.contentType } : {}) };
    } catch (err) {
      // Drop what is left of the body (dump destroys it at once, with its own error listener).
      if (res && !res.body.destroyed) await res.body.dump({ limit: 1 }).catch(() => undefined);
      if (deadline.signal.aborted) throw deadline.signal.reason;
      if (err instanceof FetchFailure) {
        if (err.message.startsWith(`${err.kind}:`)) throw err;
        throw new FetchFailure(err.kind, `${err.kind}: ${err.message}`, err.retryable, err.extra);
      }
      const failure = classifyNetworkError(err, url);
      throw new FetchFailure(failure.kind, `${failure.kind}: ${failure.message}`, failure.retryable, failure.extra);
    } finally {
      clearTimeout(timer);
      cancel?.removeEventListener('abort', onCancel);
    }
  };
}
