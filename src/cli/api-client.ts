/**
 * The CLI side of the `fetchbox` API client commands (`jobs`, `failures`, `jobs retry --where`): where
 * the API is and the token (a {@link FetchBoxClient}), client failures as exit codes, and where output
 * goes. `fetchbox jobs` shares the exit codes, the I/O and the error type, so scripts read
 * every client command alike.
 */

import { FetchBoxApiError, FetchBoxClient, FetchBoxError } from '../client/fetchbox-client.js';
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

/** The client for `--api`/`--token`, else `$FETCHBOX_API_URL` (or host and port) and `$FETCHBOX_API_TOKEN`. */
export function apiClient(options: { api?: string | undefined; token?: string | undefined }, env: NodeJS.ProcessEnv): FetchBoxClient {
  const baseUrl =
    options.api ?? env.FETCHBOX_API_URL ?? `http://${env.FETCHBOX_API_HOST ?? '127.0.0.1'}:${env.FETCHBOX_API_PORT ?? '3000'}`;
  return new FetchBoxClient({ baseUrl, token: options.token ?? env.FETCHBOX_API_TOKEN });
}

/**
 * A client failure as the command's exit: no answer or a 5xx is `unavailable`, another error answer
 * `refused` (with the error's details printed); undefined for anything that is not a client failure.
 */
export function exitOf(err: unknown): ApiCallError | undefined {
  if (err instanceof ApiCallError) return err;
  if (err instanceof FetchBoxApiError) {
    if (err.status >= 500) return new ApiCallError(ClientExit.unavailable, err.message);
    const details = err.details ? `\n${JSON.stringify(err.details, null, 2)}` : '';
    return new ApiCallError(ClientExit.refused, `${err.message}${details}`);
  }
  if (err instanceof FetchBoxError) return new ApiCallError(ClientExit.unavailable, err.message);
  return undefined;
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
