/**
 * The HTTP side of the `fetchbox` API clients (`failures`, `jobs retry --where`): where the API is,
 * the token, one call that turns transport failures and error answers into exit codes, and where
 * output goes. `fetchbox jobs` shares the exit codes, the I/O and the error type, so scripts read
 * every client command alike.
 */

import { setTimeout as delay } from 'node:timers/promises';
import { parseDurationMs } from '../config/duration.js';

/** Exit codes of the API client commands. */
export const ClientExit = {
  ok: 0,
  /** The API could not be reached, or answered 5xx. */
  unavailable: 1,
  usage: 2,
  /** The API refused the request (4xx); its error code and message are printed. */
  refused: 4,
} as const;

/** Where output goes; injectable for tests. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  stdin(): Promise<string>;
}

/** The process's stdout, stderr and stdin. */
export const processIo: Io = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

/** A call that ended the command: the exit code and what to print. */
export class ApiCallError extends Error {
  override readonly name = 'ApiCallError';
  constructor(
    readonly exit: number,
    message: string,
  ) {
    super(message);
  }
}

/** A client bound to one API base URL and token. */
export interface ApiClient {
  base: string;
  /** The headers every request sends (the bearer token), for callers that fetch themselves (an event stream). */
  headers: Record<string, string>;
  /**
   * One request; a JSON answer below 400, else ApiCallError (4xx: refused, 5xx or no answer: unavailable).
   * A string body is sent as it is (a manifest file's text), anything else as its JSON.
   */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
}

/** Tries of one read the API answered `429 rate_limited` (its per-client listing limit); the last 429 is the answer. */
const RATE_LIMITED_TRIES = 5;
/** Longest wait on one `Retry-After`. */
const MAX_RETRY_AFTER_MS = 60_000;

/** How long a `429` asks the client to wait (`Retry-After` in seconds, at least 1 s); undefined for any other answer. */
function retryAfterMs(res: Response): number | undefined {
  if (res.status !== 429) return undefined;
  const seconds = Number(res.headers.get('retry-after'));
  return Math.min(MAX_RETRY_AFTER_MS, Number.isFinite(seconds) && seconds >= 1 ? seconds * 1000 : 1000);
}

/** The client for `--api`/`--token`, else `$FETCHBOX_API_URL` (or host and port) and `$FETCHBOX_API_TOKEN`. */
export function apiClient(options: { api?: string | undefined; token?: string | undefined }, env: NodeJS.ProcessEnv): ApiClient {
  const base = (
    options.api ??
    env.FETCHBOX_API_URL ??
    `http://${env.FETCHBOX_API_HOST ?? '127.0.0.1'}:${env.FETCHBOX_API_PORT ?? '3000'}`
  ).replace(/\/+$/, '');
  const token = options.token ?? env.FETCHBOX_API_TOKEN;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return {
    base,
    headers,
    async call(method, path, body) {
      let res: Response;
      for (let attempt = 1; ; attempt++) {
        try {
          res = await fetch(`${base}${path}`, {
            method,
            headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
            ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
          });
        } catch (err) {
          const cause = (err as Error).cause;
          throw new ApiCallError(ClientExit.unavailable, `cannot reach ${base}: ${cause ? String(cause) : (err as Error).message}`);
        }
        const wait = method === 'GET' && attempt < RATE_LIMITED_TRIES ? retryAfterMs(res) : undefined;
        if (wait === undefined) break;
        await res.body?.cancel();
        await delay(wait);
      }
      const json = (await res.json().catch(() => ({}))) as any;
      const what = `${res.status} ${json?.error?.code ?? ''}: ${json?.error?.message ?? res.statusText}`;
      if (res.status >= 500) throw new ApiCallError(ClientExit.unavailable, what);
      if (res.status >= 400) {
        const details = json?.error?.details ? `\n${JSON.stringify(json.error.details, null, 2)}` : '';
        throw new ApiCallError(ClientExit.refused, `${what}${details}`);
      }
      return { status: res.status, json };
    },
  };
}

/**
 * A time option: a duration ago (`30m`, `1h`, `2d`, `1d12h`) or an ISO 8601 time, as ISO 8601 in UTC;
 * undefined for anything else.
 */
export function timeOption(text: string, now: number = Date.now()): string | undefined {
  const ago = parseDurationMs(text);
  if (ago !== undefined) return new Date(now - ago).toISOString();
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}
