import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Logger } from '@temporalio/common';
import type { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../activities/create-activities.js';
import type { LoadedPage } from '../activities/page-activities.js';
import { loadConfig } from '../config/load-config.js';
import { createFetcher, type Fetcher } from '../fetch/fetcher.js';
import { FileStorage } from '../storage/file-storage.js';
import type { Storage } from '../storage/storage.js';
import { StoreRegistry } from '../storage/store-registry.js';
import type { DownloadResult } from '../model/download-types.js';
import type { DownloadTask, JobPolicy, ManifestResource } from '../model/job-types.js';
import type { Handler } from './handler.js';
import { resolvePolicy } from './policy.js';
import { HandlerRegistry } from './registry.js';

/** File storage for the harness's `storage` and `stores` options (`fetchbox/testing` exports it for handler projects). */
export { FileStorage } from '../storage/file-storage.js';
export type { Storage } from '../storage/storage.js';

/**
 * The harness was called where `@temporalio/testing` is not installed: a production install
 * (`npm install --omit=dev`), or a handler project that did not add it. FetchBox has it as a
 * development dependency and, for projects that install the `fetchbox` package, as an optional
 * peer dependency: the harness is for tests only, and a production install never needs it.
 */
export class HarnessDependencyError extends Error {
  override readonly name = 'HarnessDependencyError';
  readonly dependency = '@temporalio/testing';
  constructor(cause: unknown) {
    super(
      'createHandlerHarness needs @temporalio/testing: in a handler project, npm install --save-dev @temporalio/testing (the version of the @temporalio packages fetchbox uses); in FetchBox itself, a development install (npm install, not --omit=dev)',
      { cause },
    );
  }
}

/**
 * Loads Temporal's MockActivityEnvironment when a harness is created, not when this module is
 * imported: src/ never imports a development dependency at load time, so a production build
 * (dist/, installed without dev dependencies) stays loadable whatever imports it.
 */
async function loadMockActivityEnvironment(): Promise<typeof MockActivityEnvironment> {
  try {
    return (await import('@temporalio/testing')).MockActivityEnvironment;
  } catch (err) {
    const missing =
      (err as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes('@temporalio/testing');
    throw missing ? new HarnessDependencyError(err) : err;
  }
}

/** Options of a handler test harness. */
export interface HandlerHarnessOptions {
  jobId?: string;
  /** The manifest's `metadata`, as the handler's `ctx.metadata`. */
  metadata?: Record<string, unknown>;
  /** The handler's `ctx.settings`. */
  settings?: Record<string, string>;
  /** Addresses the fetcher may reach; a test origin on loopback needs `127.0.0.1/32`. */
  allowCidrs?: string[];
  /** Storage to download into; a temporary directory when omitted (removed by close()). */
  storage?: Storage;
  /**
   * Named stores, as `storage.stores.<name>` configures them, so `policy.store`, `storeFor` and
   * `objectOptions().store` route objects as in a job; a name missing here fails the resource
   * (`handler`) as an unconfigured one does. `storage` is the `default` store.
   */
  stores?: Record<string, Storage>;
  fetcher?: Fetcher;
  /**
   * Temporal's activity logger inside the harness. Silent when omitted: a failed download comes
   * back as the rejection of `download()`, so its log line would only repeat it.
   */
  logger?: Logger;
}

/** Temporal's Logger that drops everything: the harness's default (see HandlerHarnessOptions.logger). */
const silentLogger: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** A handler wired to real storage and a real fetcher, its hooks run as FetchBox runs them. */
export interface HandlerHarness {
  /** The `default` store. */
  storage: Storage;
  /** Every store by name (`default` and the `stores` option's): where a task's object lands. */
  stores: StoreRegistry;
  /** The handler's policy as a job would get it (config defaults, then the handler's own). */
  policy: JobPolicy;
  /** Runs the `loadPage` activity on these resources: what the handler's expand, storageKey and storeFor make of them (the job's store: `policy.store`). */
  expand(resources: ManifestResource[]): Promise<LoadedPage>;
  /** Runs the `downloadResource` activity for one task, attempt 1, with the handler's hooks. */
  download(task: DownloadTask): Promise<DownloadResult>;
  close(): Promise<void>;
}

/**
 * Test harness for handler authors: runs FetchBox's own activities for one handler in
 * Temporal's MockActivityEnvironment, against real storage and a real fetcher, with no Temporal
 * server. See docs/handlers.md. For tests only: it loads `@temporalio/testing` (FetchBox's
 * development dependency, an optional peer dependency of the package) when called, and throws {@link HarnessDependencyError} where that is not installed.
 *
 * ```ts
 * const harness = await createHandlerHarness(myHandler, { allowCidrs: ['127.0.0.1/32'] });
 * const { tasks } = await harness.expand([{ id: 'a', url: `${origin}/index.html` }]);
 * const result = await harness.download(tasks[0]);
 * await harness.close();
 * ```
 */
export async function createHandlerHarness(handler: Handler, options: HandlerHarnessOptions = {}): Promise<HandlerHarness> {
  const MockEnvironment = await loadMockActivityEnvironment();
  const jobId = options.jobId ?? 'harness-job';
  const config = loadConfig({ FETCHBOX_FETCH_ALLOW_CIDRS: (options.allowCidrs ?? []).join(','), FETCHBOX_LOG_LEVEL: 'silent' });
  const tmp = options.storage ? undefined : await mkdtemp(path.join(os.tmpdir(), 'fetchbox-harness-'));
  const storage = options.storage ?? new FileStorage(tmp!);
  const fetcher = options.fetcher ?? createFetcher(config.fetch);
  const stores = new StoreRegistry(storage, new Map(Object.entries(options.stores ?? {})));
  // Never connected: only retry rounds read the ledger, and the harness runs none.
  const connection = Connection.lazy({ address: '127.0.0.1:1' });
  const activities = createActivities({
    storage,
    stores,
    fetcher,
    handlers: new HandlerRegistry([handler]),
    client: new Client({ connection }),
    settingsFor: () => options.settings ?? {},
  });
  const manifestKey = `${jobId}/.fetchbox/harness/manifest.json`;
  await storage.putJson(manifestKey, { jobId, handler: handler.name, metadata: options.metadata ?? {} });
  const policy = resolvePolicy(config, handler);
  const envOptions = { logger: options.logger ?? silentLogger };
  let pages = 0;
  return {
    storage,
    stores,
    policy,
    async expand(resources) {
      const pageKey = `${jobId}/.fetchbox/harness/pages/${String(pages++).padStart(6, '0')}.json`;
      await storage.putJson(pageKey, resources);
      // The job's store is the handler's policy.store, as for a job whose manifest names none.
      const store = policy.store !== undefined ? { store: policy.store } : {};
      return new MockEnvironment({}, envOptions).run(activities.loadPage, { jobId, handler: handler.name, pageKey, manifestKey, ...store });
    },
    async download(task) {
      return new MockEnvironment({ attempt: 1 }, envOptions).run(activities.downloadResource, {
        jobId,
        handler: handler.name,
        task,
        maxBytes: policy.maxBytes,
        proxyTiers: ['direct'],
        attemptsPerTier: 1,
        manifestKey,
      });
    },
    async close() {
      await connection.close();
      if (!options.fetcher) await fetcher.close();
      if (tmp) await rm(tmp, { recursive: true, force: true });
    },
  };
}
