import type { DownloadTask, JobPolicy, ManifestResource } from '../workflows/job-types.js';

/** What a handler sees of the job it works for. */
export interface HandlerContext {
  jobId: string;
  handler: string;
}

/**
 * User-written code that shapes a job: turns manifest resources into download tasks, adds
 * per-request headers, chooses storage keys and carries default policies. Every hook is
 * optional; the defaults do what the manifest says. Hooks run inside activities, so they may
 * do I/O; a hook that throws fails its resource with `error.kind = "handler"`.
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
  /** The storage key for a task; defaults to the manifest's `key` or `<jobId>/<id>-<file name>`. */
  storageKey?(task: ManifestResource, ctx: HandlerContext): string;
  /** Policies this handler's jobs run under unless configuration overrides them. */
  readonly policy?: Partial<Omit<JobPolicy, 'retry'>> & { retry?: Partial<JobPolicy['retry']> };
}

/** Declares a handler with its types checked; returns it unchanged. */
export function defineHandler<H extends Handler>(handler: H): H {
  return handler;
}

/** `<jobId>/<id>-<last path segment>`, or `<jobId>/<id>` when the URL has no file name. */
export function defaultStorageKey(resource: ManifestResource, ctx: HandlerContext): string {
  if (resource.key !== undefined) return resource.key;
  let name: string;
  try {
    const segments = new URL(resource.url).pathname.split('/');
    name = decodeURIComponent(segments[segments.length - 1] ?? '');
  } catch {
    name = '';
  }
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '').slice(0, 100);
  const id = resource.id.replace(/[^A-Za-z0-9._:-]+/g, '_').replace(/^\.+/, '_');
  return safe === '' ? `${ctx.jobId}/${id}` : `${ctx.jobId}/${id}-${safe}`;
}
