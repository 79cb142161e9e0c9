/**
 * `fetchbox/client` (this module is the package subpath's entry): a typed client of the FetchBox
 * HTTP API (docs/api.md "Typed client"), for crawlers and scripts, the one `fetchbox jobs` and
 * `fetchbox failures` use. Request and answer types are the API's own zod schemas (`z.infer` and
 * `z.input`), imported as types only: the client loads no server code.
 */

import type { z } from '@hono/zod-openapi';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { FailuresPageSchema, FailuresQuerySchema } from '../api/failures/failure-routes.js';
import type { RetriesRequestSchema, RetriesResponseSchema } from '../api/operator/operator-routes.js';
import type {
  ErrorSchema,
  JobListSchema,
  JobStatusSchema,
  JobSummarySchema,
  ResourcesPageSchema,
  ResourceStateSchema,
  ResourceStatusSchema,
  RetryResponseSchema,
  SubmitResponseSchema,
} from '../api/schemas.js';
import type { ManifestSchema, ResourceSchema } from '../api/submit/manifest-schema.js';

/** The error body every failed request answers with (`{error: {code, message, details}}`). */
export type ErrorBody = z.infer<typeof ErrorSchema>;
/** A job's status. */
export type JobStatus = z.infer<typeof JobStatusSchema>;
/** A resource's status. */
export type ResourceStatus = z.infer<typeof ResourceStatusSchema>;
/** The job summary of `GET /jobs/{jobId}`, of `GET /jobs`' items and of the events' `summary` and `end`. */
export type JobSummary = z.infer<typeof JobSummarySchema>;
/** The answer of `POST /jobs` and of `POST /jobs/{jobId}/cancel`. */
export type SubmitResponse = z.infer<typeof SubmitResponseSchema>;
/** The answer of `POST /jobs/{jobId}/retry`. */
export type RetryResponse = z.infer<typeof RetryResponseSchema>;
/** A page of `GET /jobs`. */
export type JobList = z.infer<typeof JobListSchema>;
/** One resource's state. */
export type ResourceState = z.infer<typeof ResourceStateSchema>;
/** A page of `GET /jobs/{jobId}/resources`. */
export type ResourcesPage = z.infer<typeof ResourcesPageSchema>;
/** A page of `GET /failures`. */
export type FailuresPage = z.infer<typeof FailuresPageSchema>;
/** One failed resource of `GET /failures`. */
export type Failure = FailuresPage['items'][number];
/** The body of `POST /retries`: `jobIds`, or a filter. */
export type RetriesRequest = z.input<typeof RetriesRequestSchema>;
/** The answer of `POST /retries`. */
export type RetriesResponse = z.infer<typeof RetriesResponseSchema>;
/** One resource of a manifest as a caller writes it. */
export type ManifestResourceInput = Omit<z.input<typeof ResourceSchema>, 'headers'> & { headers?: Record<string, string> };
/** A manifest as a caller writes it (the schema validates resources, headers and metadata one by one, so those are typed here). */
export type ManifestInput = Omit<z.input<typeof ManifestSchema>, 'resources' | 'metadata'> & {
  resources: ManifestResourceInput[];
  metadata?: Record<string, unknown>;
};
/** The query of `GET /failures` (times as ISO 8601). */
export type FailuresQuery = Omit<z.input<typeof FailuresQuerySchema>, 'limit'> & { limit?: number };
/** The query of `GET /jobs`. */
export interface ListQuery {
  status?: JobStatus;
  handler?: string;
  limit?: number;
  cursor?: string;
}
/** The query of `GET /jobs/{jobId}/resources`. */
export interface ResourcesQuery {
  status?: ResourceStatus;
  limit?: number;
  cursor?: string;
}
/** A `resource` event's data: the resource's state where it settled, in which page and retry round. */
export type ResourceEvent = ResourceState & { jobId: string; page: number; round: number };
/** One event of `GET /jobs/{jobId}/events`; events this client does not know are skipped. */
export type JobEvent = { event: 'summary' | 'end'; data: JobSummary } | { event: 'resource'; data: ResourceEvent };

/** Any failure of a client call; the subclasses say which. */
export class FetchBoxError extends Error {
  override readonly name: string = 'FetchBoxError';
}

/** The API answered with an error status: the status and the API's error body (code, message, details). */
export class FetchBoxApiError extends FetchBoxError {
  override readonly name = 'FetchBoxApiError';
  /** The error code (`invalid_manifest`, `job_not_found`, …); `http_<status>` when the body had none. */
  readonly code: string;
  readonly details: unknown;
  constructor(
    readonly status: number,
    readonly body: ErrorBody | undefined,
    statusText: string,
  ) {
    super(`${status} ${body?.error.code ?? ''}: ${body?.error.message ?? statusText}`);
    this.code = body?.error.code ?? `http_${status}`;
    this.details = body?.error.details;
  }
}

/** The API could not be reached (connection refused, DNS, reset before an answer). */
export class FetchBoxUnavailableError extends FetchBoxError {
  override readonly name = 'FetchBoxUnavailableError';
  constructor(
    readonly baseUrl: string,
    options: { cause: unknown },
  ) {
    const cause = options.cause as Error;
    super(`cannot reach ${baseUrl}: ${cause?.cause ? String(cause.cause) : (cause?.message ?? String(cause))}`, options);
  }
}

/** Why an event stream stopped before its `end` event. */
export const StreamFailure = {
  /** The API sent an `error` event (`body` holds it). */
  errorEvent: 'error_event',
  /** The connection broke, or an event was larger than the client takes. */
  broken: 'broken',
  /** The stream closed without an `end` event. */
  ended: 'ended',
} as const;
export type StreamFailure = (typeof StreamFailure)[keyof typeof StreamFailure];

/** An event stream that stopped before the job closed. */
export class FetchBoxStreamError extends FetchBoxError {
  override readonly name = 'FetchBoxStreamError';
  constructor(
    readonly reason: StreamFailure,
    message: string,
    readonly body?: ErrorBody,
  ) {
    super(message);
  }
}

/** Where the client sends requests and how. */
export interface FetchBoxClientOptions {
  /** The API's base URL, e.g. `http://127.0.0.1:3000` (a trailing slash is dropped). */
  baseUrl: string;
  /** A bearer token (FETCHBOX_API_TOKENS); none when the API runs without auth. */
  token?: string | undefined;
  /** The fetch to use; injectable for tests (e.g. `(input, init) => app.request(input, init)`). */
  fetch?: typeof fetch;
  /** Tries of a GET the API answered `429` (its per-client limits), waiting `Retry-After` between; default 5, 1 = no retry. */
  rateLimitTries?: number;
  /** Longest wait on one `Retry-After`; default 60 s. */
  maxRetryAfterMs?: number;
}

/** The longest event the stream reader buffers: a server that never ends an event cannot grow memory past this. */
export const MAX_SSE_EVENT_CHARS = 1024 * 1024;

const DEFAULT_RATE_LIMIT_TRIES = 5;
const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;

/** A query string of the defined values, with its `?`; empty when none is. */
function queryString(query: object): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : '';
}

const enc = encodeURIComponent;

/** A typed FetchBox API client: one method per route, errors as {@link FetchBoxError} subclasses. */
export class FetchBoxClient {
  /** The base URL without a trailing slash. */
  readonly baseUrl: string;
  private readonly headers: Record<string, string>;
  private readonly fetchFn: typeof fetch;
  private readonly rateLimitTries: number;
  private readonly maxRetryAfterMs: number;

  constructor(options: FetchBoxClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.headers = options.token ? { authorization: `Bearer ${options.token}` } : {};
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    this.rateLimitTries = Math.max(1, options.rateLimitTries ?? DEFAULT_RATE_LIMIT_TRIES);
    this.maxRetryAfterMs = Math.max(0, options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS);
  }

  /** `POST /jobs`: a manifest object, or a manifest's JSON text sent as it is. `created` is false for an identical resubmit. */
  async submit(manifest: ManifestInput | string): Promise<{ created: boolean; job: SubmitResponse }> {
    const res = await this.request('POST', '/jobs', typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
    return { created: res.status === 202, job: (await res.json()) as SubmitResponse };
  }

  /** `GET /jobs/{jobId}`: the job's summary. */
  async get(jobId: string): Promise<JobSummary> {
    return this.json('GET', `/jobs/${enc(jobId)}`);
  }

  /** `GET /jobs`: one page of jobs, newest first. */
  async list(query: ListQuery = {}): Promise<JobList> {
    return this.json('GET', `/jobs${queryString(query)}`);
  }

  /** `GET /jobs/{jobId}/resources`: one page of resource states, manifest order. */
  async resources(jobId: string, query: ResourcesQuery = {}): Promise<ResourcesPage> {
    return this.json('GET', `/jobs/${enc(jobId)}/resources${queryString(query)}`);
  }

  /** Every page of `GET /jobs/{jobId}/resources`, following `nextCursor` (a sparse filter may give empty pages). */
  async *resourcePages(jobId: string, query: Omit<ResourcesQuery, 'cursor'> = {}): AsyncGenerator<ResourcesPage> {
    let cursor: string | null = null;
    do {
      const page: ResourcesPage = await this.resources(jobId, { ...query, ...(cursor ? { cursor } : {}) });
      yield page;
      cursor = page.nextCursor;
    } while (cursor);
  }

  /** Every resource state of a job, across all pages. */
  async *allResources(jobId: string, query: Omit<ResourcesQuery, 'cursor'> = {}): AsyncGenerator<ResourceState> {
    for await (const page of this.resourcePages(jobId, query)) yield* page.items;
  }

  /** `POST /jobs/{jobId}/retry`: download the job's failed resources again. */
  async retry(jobId: string): Promise<RetryResponse> {
    return this.json('POST', `/jobs/${enc(jobId)}/retry`);
  }

  /** `POST /jobs/{jobId}/cancel`. */
  async cancel(jobId: string): Promise<SubmitResponse> {
    return this.json('POST', `/jobs/${enc(jobId)}/cancel`);
  }

  /** `GET /failures`: one page of the dead-letter view. */
  async failures(query: FailuresQuery = {}): Promise<FailuresPage> {
    return this.json('GET', `/failures${queryString(query)}`);
  }

  /** `POST /retries`: retry the jobs named, or every job a filter matches (`dryRun`: only say which). */
  async retries(request: RetriesRequest): Promise<RetriesResponse> {
    return this.json('POST', '/retries', JSON.stringify(request));
  }

  /**
   * `GET /jobs/{jobId}/events` as an async iterator, until the `end` event (the last one yielded).
   * Stops with a {@link FetchBoxStreamError} when the stream fails or closes before `end`; breaking
   * out of the loop, or `signal`, closes the connection.
   */
  async *events(jobId: string, options: { resources?: 'failed' | 'all'; signal?: AbortSignal } = {}): AsyncGenerator<JobEvent> {
    const query = options.resources ? queryString({ resources: options.resources }) : '';
    const res = await this.request('GET', `/jobs/${enc(jobId)}/events${query}`, undefined, {
      accept: 'text/event-stream',
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!res.body) throw new FetchBoxStreamError(StreamFailure.ended, 'the event stream ended before the job closed');
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const messages: EventSourceMessage[] = [];
    let oversized = false;
    const parser = createParser({
      maxBufferSize: MAX_SSE_EVENT_CHARS,
      onEvent: (message) => void messages.push(message),
      // Unknown fields and bad `retry` values are skipped, as EventSource does; only an event
      // larger than the bound ends the stream.
      onError: (err) => void (err.type === 'max-buffer-size-exceeded' && (oversized = true)),
    });
    try {
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (err) {
          throw new FetchBoxStreamError(StreamFailure.broken, `the event stream failed: ${(err as Error).message}`);
        }
        if (chunk.done) break;
        parser.feed(decoder.decode(chunk.value, { stream: true }));
        if (oversized)
          throw new FetchBoxStreamError(StreamFailure.broken, `the event stream failed: an event over ${MAX_SSE_EVENT_CHARS} characters`);
        for (const { event = 'message', data } of messages.splice(0)) {
          if (event === 'error') {
            let body: ErrorBody | undefined;
            try {
              body = JSON.parse(data) as ErrorBody;
            } catch {
              body = undefined;
            }
            throw new FetchBoxStreamError(StreamFailure.errorEvent, `the event stream failed: ${body?.error?.message ?? data}`, body);
          }
          if (event !== 'summary' && event !== 'end' && event !== 'resource') continue;
          let parsed: unknown;
          try {
            parsed = JSON.parse(data);
          } catch {
            throw new FetchBoxStreamError(StreamFailure.broken, `the event stream failed: a ${event} event that is not JSON`);
          }
          yield { event, data: parsed } as JobEvent;
          if (event === 'end') return;
        }
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
    throw new FetchBoxStreamError(StreamFailure.ended, 'the event stream ended before the job closed');
  }

  /** One request answered below 400, its JSON body typed by the caller. */
  private async json<T>(method: string, path: string, body?: string): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }

  /**
   * One request: a GET answered `429` is retried after its `Retry-After` (bounded, a few times);
   * no answer is a {@link FetchBoxUnavailableError}, an answer of 400 or more a {@link FetchBoxApiError}.
   */
  private async request(
    method: string,
    path: string,
    body?: string,
    extra: { accept?: string; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...this.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (extra.accept) headers.accept = extra.accept;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetchFn(`${this.baseUrl}${path}`, {
          method,
          headers,
          ...(body !== undefined ? { body } : {}),
          ...(extra.signal ? { signal: extra.signal } : {}),
        });
      } catch (err) {
        if (extra.signal?.aborted) throw err;
        throw new FetchBoxUnavailableError(this.baseUrl, { cause: err });
      }
      if (res.status < 400) return res;
      const wait = method === 'GET' && attempt < this.rateLimitTries ? this.retryAfterMs(res) : undefined;
      if (wait === undefined) throw new FetchBoxApiError(res.status, await errorBody(res), res.statusText);
      await res.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** How long a `429` asks the client to wait (`Retry-After` in seconds, at least 1 s, at most the bound); undefined otherwise. */
  private retryAfterMs(res: Response): number | undefined {
    if (res.status !== 429) return undefined;
    const seconds = Number(res.headers.get('retry-after'));
    return Math.min(this.maxRetryAfterMs, Number.isFinite(seconds) && seconds >= 1 ? seconds * 1000 : 1000);
  }
}

/** The most of an error answer the client reads: an error body is small; anything longer is not one. */
const MAX_ERROR_BODY_CHARS = 256 * 1024;

/** The API's error body, or undefined when the answer is not one (a proxy's HTML page, an empty body). */
async function errorBody(res: Response): Promise<ErrorBody | undefined> {
  const text = await res.text().catch(() => '');
  if (text.length > MAX_ERROR_BODY_CHARS) return undefined;
  try {
    const json = JSON.parse(text) as ErrorBody;
    return typeof json?.error?.code === 'string' && typeof json.error.message === 'string' ? json : undefined;
  } catch {
    return undefined;
  }
}
