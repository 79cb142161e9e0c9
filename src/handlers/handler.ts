import { createHash } from 'node:crypto';
import type { DownloadTask, JobPolicy, ManifestResource } from '../model/job-types.js';

/** A small text document fetched by a handler (listing pages, sitemaps, APIs). */
export interface FetchedText {
  /** The URL the text came from, after redirects. */
  url: string;
  status: number;
  contentType?: string;
  text: string;
}

/** What a handler sees of the job it works for, and what it may use. */
export interface HandlerContext {
  jobId: string;
  handler: string;
  /** The manifest's `metadata` object (empty when it had none). */
  metadata: Readonly<Record<string, unknown>>;
  /** This handler's settings: `handlers.<name>.settings` in the config file, `FETCHBOX_HANDLER_<NAME>_<KEY>` in the env. */
  settings: Readonly<Record<string, string>>;
  /**
   * Fetches a small text document through FetchBox's own fetcher, so the address guard, redirect
   * limit, timeouts and origin-bound credentials (no `Authorization`, `Cookie` or
   * `Proxy-Authorization` after a redirect to another origin) apply to handler requests too.
   * Bounded: at most 8 MiB of body, counted while it streams (more throws `too_large`, the text is
   * never truncated); at most 30 s in total, headers and body included (`timeout`); aborted when
   * the activity is canceled. Non-2xx answers throw as well. Whatever it throws fails the
   * resources being expanded with `error.kind = "handler"` and a message starting with the kind.
   */
  fetchText(url: string, init?: { headers?: Record<string, string> }): Promise<FetchedText>;
}

/** Storage options a handler may set per object. */
export interface ObjectOptions {
  /** Overrides the origin's Content-Type. */
  contentType?: string;
  /** Extra object metadata (S3 `x-amz-meta-*`; ASCII keys). FetchBox's own keys win. */
  metadata?: Record<string, string>;
  /**
   * The configured store this object goes to, chosen from the response (content type, size);
   * overrides the task's store. An unknown name fails the resource with kind `handler`.
   */
  store?: string;
}

/** Where a task's object goes, chosen before its request: a configured store and a key prefix in it. */
export interface StoreChoice {
  /** A configured store name; absent keeps the job's store. */
  store?: string;
  /** Prepended to the task's key (`<prefix>/<key>`); must be a valid key itself. */
  prefix?: string;
}

/** What `objectOptions` sees of the response: its final URL and headers FetchBox read. */
export interface ResponseInfo {
  url: string;
  contentType?: string;
  /** The response's Content-Length, when it sent one. */
  contentLength?: number;
}

/** Policies a handler may set for its jobs; configuration's `handlers.<name>.policy` overrides them. */
export type HandlerPolicy = Partial<Omit<JobPolicy, 'retry' | 'skipExisting'>> & {
  retry?: Partial<JobPolicy['retry']>;
  /** `false` turns skip-if-present off for this handler's jobs even when configured globally. */
  skipExisting?: JobPolicy['skipExisting'] | false;
  /** Stores a manifest may name in its `store` field for this handler's jobs; none when absent. */
  allowedStores?: string[];
};

/**
 * User-written code that shapes a job: turns manifest resources into download tasks, adds
 * per-request headers, chooses storage keys and object options, and carries default policies.
 * Every hook is optional; without hooks a handler downloads what the manifest says. Hooks run
 * inside activities, so they may do I/O; a hook that throws fails its resources with
 * `error.kind = "handler"` and its message, without affecting the worker.
 */
export interface Handler {
  /** The name manifests select it by (`"handler": "<name>"`). */
  readonly name: string;
  /** A line for operators, shown in docs and logs. */
  readonly description?: string;
  /** Turns one page of manifest resources into download tasks (may add, drop or rewrite). */
  expand?(resources: readonly ManifestResource[], ctx: HandlerContext): Promise<DownloadTask[]> | DownloadTask[];
  /** Headers for one request, merged over the resource's own; called per attempt. */
  headers?(task: DownloadTask, ctx: HandlerContext): Promise<Record<string, string>> | Record<string, string>;
  /** The storage key for a resource; defaults to the manifest's `key` or `<jobId>/<id>-<file name>`. */
  storageKey?(resource: ManifestResource, ctx: HandlerContext): string;
  /**
   * The store and key prefix of a task, before its request (runs in `loadPage` after `expand` or
   * `storageKey`); skip-if-present, conditional requests and resume checks look there.
   */
  storeFor?(task: DownloadTask, ctx: HandlerContext): StoreChoice | undefined;
  /** Content type, extra metadata and store for the stored object, once the response headers are in. */
  objectOptions?(task: DownloadTask, response: ResponseInfo, ctx: HandlerContext): Promise<ObjectOptions> | ObjectOptions;
  /** Policies this handler's jobs run under unless configuration overrides them. */
  readonly policy?: HandlerPolicy;
}

/** Declares a handler with its types checked; returns it unchanged. */
export function defineHandler<H extends Handler>(handler: H): H {
  return handler;
}

/** A file name safe in any key segment: `[A-Za-z0-9._-]`, no leading dots, at most 100 chars. */
export function safeName(name: string): string {
  return name
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^\.+/, '')
    .slice(0, 100);
}

/** The last path segment of a URL, decoded, or '' when there is none. */
export function urlFileName(url: string): string {
  try {
    const segments = new URL(url).pathname.split('/');
    return decodeURIComponent(segments[segments.length - 1] ?? '');
  } catch {
    return '';
  }
}

/** Longest id part of a default key: with a 100-character file name the segment stays under 255 bytes. */
const MAX_KEY_ID_CHARS = 100;

/**
 * `<jobId>/<id>-<last path segment>`, or `<jobId>/<id>` when the URL has no file name. An id over
 * 100 characters is shortened to its first 80 plus a hash of the whole id, so the segment fits a
 * file system's 255-byte name limit and distinct ids keep distinct keys.
 */
export function defaultStorageKey(resource: ManifestResource, ctx: Pick<HandlerContext, 'jobId'>): string {
  if (resource.key !== undefined) return resource.key;
  const safe = safeName(urlFileName(resource.url));
  let id = resource.id.replace(/[^A-Za-z0-9._:-]+/g, '_').replace(/^\.+/, '_');
  if (id.length > MAX_KEY_ID_CHARS) id = `${id.slice(0, 80)}~${createHash('sha256').update(resource.id).digest('hex').slice(0, 16)}`;
  return safe === '' ? `${ctx.jobId}/${id}` : `${ctx.jobId}/${id}-${safe}`;
}
