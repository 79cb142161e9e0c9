import { FetchFailure } from '../fetch/errors.js';
import type { Fetcher } from '../fetch/fetcher.js';
import { restrictTaskHeaders } from '../fetch/origin-headers.js';
import { createFetchText, type FetchTextDeps } from '../handlers/fetch-text.js';
import { defaultStorageKey, type HandlerContext } from '../handlers/handler.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import { ObjectNotFoundError } from '../storage/errors.js';
import type { Storage } from '../storage/storage.js';
import type { DownloadTask, ManifestResource } from '../model/job-types.js';

/** Staged manifest documents kept in memory for handler contexts (one per recent job). */
const METADATA_CACHE = 256;

/** Thrown by a handler hook; carries the hook's name for the recorded message. */
export class HandlerHookError extends Error {
  override readonly name = 'HandlerHookError';
}

/** Runs a handler hook; anything it throws becomes a HandlerHookError naming the hook. */
export async function hook<T>(what: string, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const message = err instanceof FetchFailure ? err.message : err instanceof Error ? err.message : String(err);
    throw new HandlerHookError(`handler ${what} failed: ${message}`);
  }
}

/** What building handler contexts needs: the worker's storage, fetcher, handlers and settings. */
export interface HandlerHookDeps {
  storage: Storage;
  fetcher: Fetcher;
  handlers: HandlerRegistry;
  settingsFor?: (handler: string) => Record<string, string>;
  /** `ctx.fetchText`'s byte cap and deadline (`fetch.textMaxBytes`, `fetch.textDeadlineMs`); its defaults when unset. */
  textLimits?: TextLimits;
}

/** The configurable limits of `ctx.fetchText` (FetchTextDeps without the fetcher and signal). */
export type TextLimits = Pick<FetchTextDeps, 'maxBytes' | 'deadlineMs'>;

/** Builds handler contexts and turns resources into download tasks through the job's handler. */
export interface HandlerHooks {
  /** The context a handler hook sees: the job, its manifest metadata, settings and fetchText. */
  contextFor(jobId: string, handler: string, manifestKey: string | undefined): Promise<HandlerContext>;
  /** The handler's tasks for resources (`expand`, or one task each with `storageKey`). */
  toTasks(ctx: HandlerContext, resources: ManifestResource[]): Promise<DownloadTask[]>;
}

/**
 * One per worker process: caches the manifest metadata of recent jobs, so handler hooks get
 * their context without a storage read per resource.
 */
export function createHandlerHooks({ storage, fetcher, handlers, settingsFor, textLimits }: HandlerHookDeps): HandlerHooks {
  const metadataCache = new Map<string, Record<string, unknown>>();

  async function metadataOf(manifestKey: string | undefined): Promise<Record<string, unknown>> {
    if (manifestKey === undefined) return {};
    const cached = metadataCache.get(manifestKey);
    if (cached) return cached;
    const doc = await storage.getJson<{ metadata?: Record<string, unknown> }>(manifestKey).catch((err: unknown) => {
      if (err instanceof ObjectNotFoundError) return { metadata: {} };
      throw err;
    });
    const metadata = doc.metadata ?? {};
    if (metadataCache.size >= METADATA_CACHE) metadataCache.delete(metadataCache.keys().next().value!);
    metadataCache.set(manifestKey, metadata);
    return metadata;
  }

  // Capped while streaming, with a total deadline, canceled with the activity (handlers/fetch-text.ts).
  const fetchText = createFetchText({
    fetcher,
    ...(textLimits?.maxBytes !== undefined ? { maxBytes: textLimits.maxBytes } : {}),
    ...(textLimits?.deadlineMs !== undefined ? { deadlineMs: textLimits.deadlineMs } : {}),
  });

  return {
    async contextFor(jobId, handler, manifestKey) {
      return { jobId, handler, metadata: await metadataOf(manifestKey), settings: settingsFor?.(handler) ?? {}, fetchText };
    },

    async toTasks(ctx, resources) {
      const handler = handlers.get(ctx.handler);
      if (handler.expand) {
        const expand = handler.expand.bind(handler);
        // Headers reach only the origins the manifest gave them for (fetch/origin-headers.ts).
        return hook('expand', async () => restrictTaskHeaders(await expand(resources, ctx), resources));
      }
      const keyFor = handler.storageKey ? handler.storageKey.bind(handler) : defaultStorageKey;
      return hook('storageKey', () =>
        resources.map((r) => ({ id: r.id, url: r.url, key: keyFor(r, ctx), ...(r.headers ? { headers: r.headers } : {}) })),
      );
    },
  };
}
