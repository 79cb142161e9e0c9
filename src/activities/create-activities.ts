import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Fetcher } from '../fetch/fetcher.js';
import { defaultStorageKey } from '../handlers/handler.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import { manifestDocumentKey } from '../storage/keys.js';
import type { Storage } from '../storage/storage.js';
import type { StoreRegistry } from '../storage/store-registry.js';
import type {
  BatchOutcome,
  DownloadBatchInput,
  DownloadInlineInput,
  DownloadInput,
  DownloadResult,
  InlineRunResult,
} from '../workflows/download-types.js';
import type { DownloadTask, InlineManifest, ManifestResource, RejectedResource } from '../workflows/job-types.js';
import { pino, type Logger } from 'pino';
import { createDownloadOne } from './download-one.js';
import { failedTasksOf } from './failed-tasks.js';
import { downloadBatch } from './download-batch.js';
import { createHandlerHooks, HandlerHookError, type TextLimits } from './handler-hooks.js';
import type { HostPermits } from './host-broker.js';
import { fitPage, ioFailure, readStagedPage, validateStagedPage, withoutReusedKeys } from './load-page.js';
import { activityRun } from './resume-check.js';
import { keptAlive } from './keep-alive.js';
import { assignStores } from './task-store.js';
import { deliverWebhook, type WebhookDeps } from './deliver-webhook.js';
import type { DeliverWebhookInput, DeliverWebhookResult } from '../workflows/notify-types.js';

/** What publishing a job's manifest needs: where it was staged, and an inline manifest with its page key. */
export interface PublishInput {
  jobId: string;
  manifestKey: string;
  submittedAt: string;
  inline?: InlineManifest;
  pageKey?: string;
}

/**
 * Copies the staged manifest document to `<jobId>/manifest.json` with its submit time; an inline
 * manifest is staged first (page and document), all three writes at once. Shared by
 * `publishManifest` and `downloadInline`.
 */
export async function publishManifestDocument(storage: Storage, input: PublishInput): Promise<void> {
  const { inline, pageKey } = input;
  if (inline && pageKey) {
    await Promise.all([
      storage.putJson(pageKey, inline.resources),
      storage.putJson(input.manifestKey, inline.document),
      storage.putJson(manifestDocumentKey(input.jobId), { ...inline.document, submittedAt: input.submittedAt }),
    ]);
    return;
  }
  const staged = await storage.getJson<Record<string, unknown>>(input.manifestKey);
  await storage.putJson(manifestDocumentKey(input.jobId), { ...staged, submittedAt: input.submittedAt });
}

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

/**
 * What loadPage hands the page workflow: tasks to run, and resources the handler failed. Its size
 * is bounded by the page budget (src/workflows/page-budget.ts), expansions included.
 */
export interface LoadedPage {
  tasks: DownloadTask[];
  pageResources: number;
  /** Resources whose expansion did not fit the page budget or the job's task cap: failed, kind `handler`. */
  rejected?: RejectedResource[];
  /** When the handler's expand threw: the page's resources, to be recorded as failed. */
  handlerError?: { message: string; resources: DownloadTask[] };
}

/** Heartbeats at most this often while a body streams, whatever the chunk rate. */
const HEARTBEAT_EVERY_MS = 1_000;

/**
 * Builds the activities with their dependencies (samples-typescript style), so tests can pass
 * real or stand-in storage and fetchers. Each returned function is registered by name.
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
  const { contextFor } = hooks;
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

  const publish = (input: PublishInput) => publishManifestDocument(storage, input);

  const activities = {
    /**
     * Copies the staged manifest document to `<jobId>/manifest.json`, beside the job's objects.
     * Runs in the workflow so only the job that won the jobId publishes it. A small manifest
     * that came inline in the workflow input is staged here first (page and document, the same
     * keys the API would have written), so everything after reads it from storage as usual.
     */
    async publishManifest(input: {
      jobId: string;
      handler: string;
      manifestKey: string;
      submittedAt: string;
      inline?: InlineManifest;
      pageKey?: string;
    }): Promise<void> {
      await publish(input);
    },

    /**
     * Reads one staged page and lets the job's handler turn it into download tasks. A handler
     * that throws does not fail the activity: its resources come back as `handlerError`, to be
     * recorded as failed with `error.kind = "handler"`. Tasks beyond the page budget or the job's
     * task cap (`maxExtraTasks`) are not taken: their resources come back `rejected`. Storage
     * outages are retried; a corrupt staged page or a bug fails non-retryably (load-page.ts).
     */
    async loadPage(input: {
      jobId: string;
      handler: string;
      pageKey: string;
      manifestKey?: string;
      maxExtraTasks?: number;
      store?: string;
    }): Promise<LoadedPage> {
      try {
        const resources = await readStagedPage(storage, input.pageKey);
        const ctx = await contextFor(input.jobId, input.handler, input.manifestKey);
        // The handler's tasks, each with its store (the job's `policy.store`, or the handler's choice).
        const toTasks = async (_: unknown, rs: ManifestResource[]) =>
          assignStores(handlers, ctx, await hooks.toTasks(ctx, rs), input.store);
        const keyOf = (r: ManifestResource) => r.key ?? defaultStorageKey(r, ctx);
        const oneToOne = handlers.get(input.handler).expand === undefined;
        try {
          // A page of a job from before the budget (no maxExtraTasks) was cut by the old rule; its
          // resources run as they are. Expansions always stay within the budget.
          if (oneToOne && input.maxExtraTasks === undefined) {
            const page = withoutReusedKeys({ tasks: await toTasks(ctx, resources), rejected: [] });
            return { tasks: page.tasks, pageResources: resources.length, ...(page.rejected.length > 0 ? { rejected: page.rejected } : {}) };
          }
          // Within the page budget and the job's task cap (load-page.ts); what does not fit is rejected.
          const fit = (expandEach: boolean) =>
            fitPage(resources, {
              expand: (rs) => toTasks(ctx, rs),
              oneToOne,
              keyOf,
              maxExtraTasks: input.maxExtraTasks,
              onResourceError: (err) => {
                if (err instanceof HandlerHookError) return err.message;
                throw err;
              },
              expandEach,
            });
          const fitted = await fit(false).catch(async (err: unknown) => {
            // The page's expand threw: ask again one resource at a time, so one bad listing fails
            // alone. When every resource fails that way, the page fails as one (below).
            if (!(err instanceof HandlerHookError) || resources.length < 2) throw err;
            const each = await fit(true);
            if (each.tasks.length === 0 && each.rejected.length === resources.length) throw err;
            return each;
          });
          // One key, one task: a key the page uses twice fails the later task (handler).
          const { tasks, rejected } = withoutReusedKeys(fitted);
          return { tasks, pageResources: resources.length, ...(rejected.length > 0 ? { rejected } : {}) };
        } catch (err) {
          if (!(err instanceof HandlerHookError)) throw err;
          return {
            tasks: [],
            pageResources: resources.length,
            handlerError: {
              message: err.message.slice(0, 500),
              resources: resources.map((r) => ({ id: r.id, url: r.url, key: keyOf(r) })),
            },
          };
        }
      } catch (err) {
        throw ioFailure(err);
      }
    },

    /**
     * The tasks of a page that are still failed after every earlier round, read from those rounds'
     * results in Temporal (the ledger) and joined with the staged page for their headers.
     * Outages are retried; a corrupt staged page or a failed round fails non-retryably.
     */
    async failedTasks(input: { jobId: string; handler: string; page: number; pageKey: string; round: number }): Promise<DownloadTask[]> {
      return failedTasksOf(client, storage, input).catch((err: unknown) => {
        throw ioFailure(err);
      });
    },

    /**
     * Downloads one resource and streams it into storage, verifying size and sha256 on the way.
     * Throws a classified ApplicationFailure: `type` is the failure kind, `nonRetryable` marks
     * permanent failures, and `nextRetryDelay` carries the origin's Retry-After. Attempts made
     * before this activity (the first one, in a batch) count through `attemptOffset`.
     */
    async downloadResource(input: DownloadInput): Promise<DownloadResult> {
      const activity = Context.current();
      let lastBeat = Date.now(); // as in download-batch.ts: no heartbeat in the first interval
      const beat = (bytes: number) => {
        const now = Date.now();
        if (now - lastBeat >= HEARTBEAT_EVERY_MS) {
          lastBeat = now;
          activity.heartbeat(bytes);
        }
      };
      const attempt = activity.info.attempt + (input.attemptOffset ?? 0);
      return downloadOne(input, input.task, attempt, activity.cancellationSignal, beat, activityRun(activity.info));
    },

    /** First attempts of many small downloads in one activity (download-batch.ts). */
    async downloadBatch(input: DownloadBatchInput): Promise<BatchOutcome[]> {
      return downloadBatch(downloadOne, input);
    },

    /**
     * A small job's whole first round in one activity (JobWorkflowInput.inlineRun): publishes the
     * inline manifest (as `publishManifest`), turns its page into tasks through the handler (as
     * `loadPage`, for handlers without `expand`), and makes each task's first attempt (as
     * `downloadBatch`, heartbeating the outcomes so far: a retried activity does not download a
     * settled resource again). One activity per job instead of three, and no page child.
     */
    async downloadInline(input: DownloadInlineInput): Promise<InlineRunResult> {
      const { jobId, handler, manifestKey, pageKey, inline } = input;
      try {
        await publish({ jobId, manifestKey, submittedAt: input.submittedAt, inline, pageKey });
      } catch (err) {
        throw ioFailure(err);
      }
      const resources = validateStagedPage(inline.resources, pageKey);
      const ctx = await contextFor(jobId, handler, manifestKey);
      let page: { tasks: DownloadTask[]; rejected: RejectedResource[] };
      try {
        page = withoutReusedKeys({
          tasks: await assignStores(handlers, ctx, await hooks.toTasks(ctx, resources), input.store),
          rejected: [],
        });
      } catch (err) {
        if (!(err instanceof HandlerHookError)) throw ioFailure(err);
        const keyOf = (r: ManifestResource) => r.key ?? defaultStorageKey(r, ctx);
        return {
          tasks: [],
          pageResources: resources.length,
          handlerError: { message: err.message.slice(0, 500), resources: resources.map((r) => ({ id: r.id, url: r.url, key: keyOf(r) })) },
          outcomes: [],
        };
      }
      const outcomes = await downloadBatch(downloadOne, { ...input, tasks: page.tasks });
      return {
        tasks: page.tasks,
        pageResources: resources.length,
        ...(page.rejected.length > 0 ? { rejected: page.rejected } : {}),
        outcomes,
      };
    },
  };
  // The I/O activities report no progress of their own: they heartbeat while they run (keep-alive.ts).
  return {
    ...activities,
    publishManifest: keptAlive(activities.publishManifest),
    loadPage: keptAlive(activities.loadPage),
    failedTasks: keptAlive(activities.failedTasks),
    /** A job's completion webhook, one attempt (deliver-webhook.ts); the job workflow retries it for hours. */
    deliverWebhook: (input: DeliverWebhookInput): Promise<DeliverWebhookResult> => deliverWebhook(webhooks, input),
  };
}

/** The activity functions the worker registers; workflows import this type only. */
export type Activities = ReturnType<typeof createActivities>;
