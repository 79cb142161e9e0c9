import { defaultStorageKey, type Handler } from '../../handlers/handler.js';
import type { HandlerRegistry } from '../../handlers/registry.js';
import { StorageError } from '../../storage/errors.js';
import type { Storage } from '../../storage/storage.js';
import { pageKey } from '../../model/ids.js';
import type { JobPolicy, ManifestResource, StagedManifest } from '../../model/job-types.js';
import {
  INLINE_RUN_LIMITS,
  MAX_PAGE_TASKS,
  MAX_STORE_FIELD_BYTES,
  PAGE_BUDGET_BYTES,
  jsonBytes,
  worstStateBytes,
} from '../../model/page-budget.js';
import { DEFAULT_STORE } from '../../config/store-settings.js';
import { ApiError, ErrorCode } from '../api-error.js';
import { fanOut } from '../fan-out.js';
import type { Manifest } from './manifest-schema.js';

/**
 * Largest resource list (JSON bytes) carried inline in the workflow input instead of staged by
 * the API; well under Temporal's 2 MB payload limit, and carried by every run of the job.
 */
const INLINE_MAX_BYTES = 256 * 1024;
/** Stands for a key a handler computes: the longest key storage accepts (1024 bytes). */
const LONGEST_KEY = 'k'.repeat(1024);
/** Pages written to storage at once while staging a manifest. */
const STAGING_CONCURRENCY = 8;

/**
 * Splits resources into pages of at most `pageSize` resources whose worst-case states (each
 * resource's JSON with its key, plus the most a state can add: see page-budget.ts) stay within
 * PAGE_BUDGET_BYTES, so no page's loadPage result, batch input, failedTasks result or PageResult
 * can reach Temporal's payload limit. `keyOf` gives the key a resource will be stored under
 * (default: its own key); a handler that computes keys passes the longest possible one.
 */
export function paginate(
  resources: readonly ManifestResource[],
  pageSize: number,
  keyOf: (r: ManifestResource) => string = (r) => r.key ?? '',
  extraBytes = 0,
): ManifestResource[][] {
  const pages: ManifestResource[][] = [];
  let current: ManifestResource[] = [];
  let bytes = 2;
  const size = Math.min(Math.max(1, pageSize), MAX_PAGE_TASKS);
  for (const r of resources) {
    const cost = worstStateBytes({ ...r, key: keyOf(r) }) + extraBytes + 1;
    if (current.length > 0 && (current.length >= size || bytes + cost > PAGE_BUDGET_BYTES)) {
      pages.push(current);
      current = [];
      bytes = 2;
    }
    current.push(r);
    bytes += cost;
  }
  if (current.length > 0) pages.push(current);
  return pages;
}

/**
 * Whether a job runs its one page's first round inline in the job workflow
 * (JobWorkflowInput.inlineRun: one workflow and one activity per job): its manifest travels
 * inline, its handler maps resources one to one (no `expand`), it is not polite (a per-host limit
 * keeps the page scheduler that enforces it), it batches first attempts, and it is small
 * (`maxResources`, `job.inlineMaxResources`, and INLINE_RUN_LIMITS: its states ride in the job's
 * carry and result).
 */
export function runsInline(staged: StagedManifest, handler: Handler, policy: JobPolicy, maxResources: number): boolean {
  const inline = staged.inline;
  return (
    inline !== undefined &&
    inline.resources.length <= maxResources &&
    handler.expand === undefined &&
    !((policy.perHostConcurrency ?? 0) > 0) &&
    (policy.batchSize ?? 1) > 1 &&
    inline.resources.length <= INLINE_RUN_LIMITS.maxResources &&
    jsonBytes(inline.resources) <= INLINE_RUN_LIMITS.maxResourceBytes
  );
}

/** What staging a manifest needs besides its validated resources. */
export interface StagingInput {
  storage: Storage;
  handlers: HandlerRegistry;
  pageSize: number;
  jobId: string;
  manifest: Manifest;
  resources: ManifestResource[];
  hash: string;
  /** The job's store (`policy.store`); absent or `default` when its tasks carry none. */
  store?: string | undefined;
}

/**
 * Pages a manifest and stages it under its hash: a conflicting submit can never overwrite
 * another's pages, and an identical one rewrites identical bytes. A one-page manifest of at most
 * INLINE_MAX_BYTES is carried inline instead (the workflow stages it); larger ones are written
 * here, before the workflow starts. Storage outages become 503 storage_unavailable.
 */
export async function stageManifest({
  storage,
  handlers,
  pageSize,
  jobId,
  manifest,
  resources,
  hash,
  store,
}: StagingInput): Promise<StagedManifest> {
  // Staging lives in the default store's reserved area, whatever store the job's objects go to.
  const prefix = `${jobId}/.fetchbox/${hash.slice(0, 16)}`;
  // Keys count against the page budget: the default key is known here; a handler's own
  // storageKey (or storeFor's prefix) may make any key up to the 1024-byte maximum.
  const handler = handlers.get(manifest.handler);
  const computesKeys = handler.storageKey !== undefined || handler.storeFor !== undefined;
  // So does a task's store name, when the job or the handler gives one.
  const storeBytes = handler.storeFor !== undefined || (store !== undefined && store !== DEFAULT_STORE) ? MAX_STORE_FIELD_BYTES : 0;
  const pages = paginate(resources, pageSize, (r) => (computesKeys ? LONGEST_KEY : defaultStorageKey(r, { jobId })), storeBytes);
  const document = {
    jobId,
    handler: manifest.handler,
    metadata: manifest.metadata ?? {},
    resources: { total: resources.length, pages: pages.length },
    manifestHash: hash,
    ...(store !== undefined && store !== DEFAULT_STORE ? { store } : {}),
  };
  // A one-page manifest of at most INLINE_MAX_BYTES goes in the workflow input (durable in
  // Temporal's history; the workflow stages it): the accept costs one Temporal call and no
  // storage write. Larger ones are staged here, before the workflow starts.
  const inline = pages.length === 1 && JSON.stringify(resources).length <= INLINE_MAX_BYTES ? { document, resources } : undefined;
  if (!inline) {
    try {
      // The pages and the manifest document are written at once: an accept waits for one
      // round of durable writes, not two (the workflow starts only after all of them).
      await Promise.all([
        fanOut(
          pages.map((items, page) => ({ items, page })),
          STAGING_CONCURRENCY,
          ({ items, page }) => storage.putJson(pageKey(prefix, page), items),
        ),
        storage.putJson(`${prefix}/manifest.json`, document),
      ]);
    } catch (err) {
      if (err instanceof StorageError) {
        throw new ApiError(503, ErrorCode.storageUnavailable, `storage is unavailable; retry later (${err.message})`);
      }
      throw err;
    }
  }
  return {
    hash,
    prefix,
    manifestKey: `${prefix}/manifest.json`,
    pageCount: pages.length,
    total: resources.length,
    ...(inline ? { inline } : {}),
  };
}
