import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { pino, type Logger } from 'pino';
import type { Fetcher } from '../fetch/fetcher.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import type { WorkerMetrics } from '../observability/worker-metrics.js';
import type { Storage } from '../storage/storage.js';
import type { StoreRegistry } from '../storage/store-registry.js';
import type { DeliverWebhookInput, DeliverWebhookResult } from '../model/notify-types.js';
import { deliverWebhook, type WebhookDeps } from './deliver-webhook.js';
import { createDownloadActivities } from './download-activities.js';
import { createDownloadOne } from './download-one.js';
import { createHandlerHooks, type TextLimits } from './handler-hooks.js';
import type { HostPermits } from './host-broker.js';
import { createPageActivities } from './page-activities.js';

/** What the activities need; built once per worker process. */
export interface ActivityDeps {
  /** The default store: staged manifests and pages, and objects without a store choice. */
  storage: Storage;
  /** Every configured store by name (store-registry.ts); only `storage` when omitted. */
  stores?: StoreRegistry;
  fetcher: Fetcher;
  handlers: HandlerRegistry;
  /**
   * Why an activity holds a Temporal Client: Temporal history is the ledger. A retry round's
   * `failedTasks` reads the earlier rounds' page results back from it (src/ledger/page-states.ts).
   */
  client: Client;
  /** A handler's settings by handler name (see handlerSettings); empty when omitted. */
  settingsFor?: (handler: string) => Record<string, string>;
  /** Limits of handlers' `ctx.fetchText` (`fetch.textMaxBytes`, `fetch.textDeadlineMs`); its defaults when omitted. */
  textLimits?: TextLimits;
  /** Where activity logs go (with jobId, resourceId, workflowId, attempt); silent when omitted. */
  logger?: Logger;
  /** The worker's own Prometheus metrics; none recorded when omitted. */
  metrics?: WorkerMetrics;
  /** The worker's host broker (politeness across jobs and workers, host-broker.ts); omitted when no host has a limit. */
  hostPermits?: HostPermits;
  /** Completion webhooks' secret and address rules (deliver-webhook.ts); without them every attempt fails, retryably. */
  webhooks?: WebhookDeps;
}

/** How often a kept-alive activity heartbeats: well inside IO_HEARTBEAT_TIMEOUT (workflows set it). */
const KEEP_ALIVE_INTERVAL_MS = 5_000;

/**
 * Wraps an activity so it heartbeats every {@link KEEP_ALIVE_INTERVAL_MS} while it runs, with no
 * details. Why: the page and job I/O activities (`publishManifest`, `loadPage`, `failedTasks`)
 * may run long (a handler's listings) but report no progress; with a heartbeat timeout a worker
 * that dies while running one is noticed within that timeout, not after the 5-minute
 * start-to-close, and a canceled page's `loadPage` learns of it (its fetchText aborts).
 * Outside an activity (plain unit calls) it runs the function as it is.
 */
function keptAlive<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    let context: Context | undefined;
    try {
      context = Context.current();
    } catch {
      return fn(...args);
    }
    const ticker = setInterval(() => context.heartbeat(), KEEP_ALIVE_INTERVAL_MS);
    try {
      return await fn(...args);
    } finally {
      clearInterval(ticker);
    }
  };
}

/**
 * Builds the activities with their dependencies (samples-typescript style), so tests can pass
 * real or stand-in storage and fetchers. Each returned function is registered by name: the page
 * activities (page-activities.ts), the download activities (download-activities.ts) and the
 * completion webhook (deliver-webhook.ts).
 */
export function createActivities({
  storage,
  stores,
  fetcher,
  handlers,
  client,
  settingsFor,
  textLimits,
  logger = pino({ level: 'silent' }),
  metrics,
  hostPermits,
  webhooks = { fetch: { allowCidrs: [], connectTimeoutMs: 10_000, userAgent: 'FetchBox' } },
}: ActivityDeps) {
  const hooks = createHandlerHooks({
    storage,
    fetcher,
    handlers,
    ...(settingsFor ? { settingsFor } : {}),
    ...(textLimits ? { textLimits } : {}),
  });
  const downloadOne = createDownloadOne({
    storage,
    ...(stores ? { stores } : {}),
    fetcher,
    handlers,
    hooks,
    logger,
    ...(metrics ? { metrics } : {}),
    ...(hostPermits ? { hostPermits } : {}),
  });
  const pages = createPageActivities({ storage, client, handlers, hooks, downloadOne });
  return {
    ...createDownloadActivities(downloadOne),
    // The page I/O activities report no progress of their own: they heartbeat while they run.
    publishManifest: keptAlive(pages.publishManifest),
    loadPage: keptAlive(pages.loadPage),
    failedTasks: keptAlive(pages.failedTasks),
    downloadInline: pages.downloadInline,
    /** A job's completion webhook, one attempt (deliver-webhook.ts); the job workflow retries it for hours. */
    deliverWebhook: (input: DeliverWebhookInput): Promise<DeliverWebhookResult> => deliverWebhook(webhooks, input),
  };
}

/** The activity functions the worker registers; workflows import this type only. */
export type Activities = ReturnType<typeof createActivities>;
