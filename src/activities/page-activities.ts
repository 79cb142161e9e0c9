/**
 * The page activities: a job's staged manifest and pages turned into download tasks through the
 * job's handler (`publishManifest`, `loadPage`, `failedTasks`), and a small job's whole first round
 * in one activity (`downloadInline`). Staged pages are read back here, untrusted.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { restrictTaskHeaders } from '../fetch/origin-headers.js';
import { defaultStorageKey, type HandlerContext } from '../handlers/handler.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import { readPageStates } from '../ledger/page-states.js';
import { ObjectNotFoundError } from '../storage/errors.js';
import { manifestDocumentKey } from '../storage/keys.js';
import type { Storage } from '../storage/storage.js';
import { ResourceStatus } from '../model/constants.js';
import type { DownloadInlineInput, InlineRunResult } from '../model/download-types.js';
import type { DownloadTask, InlineManifest, ManifestResource, RejectedResource, ResourceState } from '../model/job-types.js';
import { MAX_PAGE_TASKS, PAGE_BUDGET_BYTES } from '../model/page-budget.js';
import { downloadBatch } from './download-activities.js';
import type { DownloadOne } from './download-one.js';
import { ioFailure, LoadFailure } from './failures.js';
import { HandlerHookError, type HandlerHooks } from './handler-hooks.js';
import { fitPage, withoutReusedKeys } from './page-fit.js';
import { assignStores } from './task-store.js';

/**
 * Largest staged page accepted, in bytes of JSON: twice the page budget. Pages the API staged
 * before the budget existed (1 MiB of resource JSON) fit; anything larger was not written by
 * FetchBox and could not travel in a payload anyway.
 */
const MAX_STAGED_PAGE_BYTES = 2 * PAGE_BUDGET_BYTES;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The staged page as FetchBox wrote it, or a non-retryable `corrupt_staged_page` failure: the API
 * wrote it, but storage is not trusted (anything that can write the bucket can write here).
 */
export function validateStagedPage(value: unknown, key: string): ManifestResource[] {
  const corrupt = (why: string) =>
    ApplicationFailure.create({ type: LoadFailure.corruptPage, message: `staged page ${key} is corrupt: ${why}`, nonRetryable: true });
  if (!Array.isArray(value)) throw corrupt('not an array');
  if (value.length > MAX_PAGE_TASKS) throw corrupt(`${value.length} resources (at most ${MAX_PAGE_TASKS})`);
  for (const [i, r] of value.entries()) {
    if (!isRecord(r)) throw corrupt(`resource ${i} is not an object`);
    if (typeof r.id !== 'string' || typeof r.url !== 'string') throw corrupt(`resource ${i} needs string id and url`);
    if (r.key !== undefined && typeof r.key !== 'string') throw corrupt(`resource ${i} has a non-string key`);
    if (r.headers !== undefined && (!isRecord(r.headers) || Object.values(r.headers).some((h) => typeof h !== 'string'))) {
      throw corrupt(`resource ${i} has headers that are not strings`);
    }
    const extra = Object.keys(r).find((k) => k !== 'id' && k !== 'url' && k !== 'key' && k !== 'headers');
    if (extra !== undefined) throw corrupt(`resource ${i} has an unknown field ${JSON.stringify(extra.slice(0, 64))}`);
  }
  return value as ManifestResource[];
}

/** Reads and validates a staged page; a missing or unparsable one is a non-retryable failure. */
export async function readStagedPage(storage: Storage, key: string): Promise<ManifestResource[]> {
  let raw: Buffer;
  try {
    const body = await storage.get(key);
    const parts: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of body) {
      bytes += (chunk as Buffer).length;
      if (bytes > MAX_STAGED_PAGE_BYTES) {
        body.destroy();
        throw ApplicationFailure.create({
          type: LoadFailure.corruptPage,
          message: `staged page ${key} is corrupt: over ${MAX_STAGED_PAGE_BYTES} bytes`,
          nonRetryable: true,
        });
      }
      parts.push(chunk as Buffer);
    }
    raw = Buffer.concat(parts);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) {
      throw ApplicationFailure.create({ type: LoadFailure.missingPage, message: `staged page ${key} is missing`, nonRetryable: true });
    }
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw ApplicationFailure.create({
      type: LoadFailure.corruptPage,
      message: `staged page ${key} is corrupt: ${(err as Error).message}`,
      nonRetryable: true,
    });
  }
  return validateStagedPage(value, key);
}

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
async function publishManifestDocument(storage: Storage, input: PublishInput): Promise<void> {
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

/**
 * The failed tasks of a page after every earlier round, joined with the staged page for their
 * headers. Backs the `failedTasks` activity. It takes a Temporal Client because Temporal history
 * is FetchBox's ledger: each round's page results live only there (the job workflow keeps counts,
 * not states), so a retry round reads them back through the one ledger reader
 * (src/ledger/page-states.ts), the same one the API lists resources with.
 */
async function failedTasksOf(
  client: Client,
  storage: Storage,
  input: { jobId: string; page: number; pageKey: string; round: number },
): Promise<DownloadTask[]> {
  if (input.round === 0) return [];
  // Earlier rounds are all closed when a retry round starts; one that closed without a result
  // (failed, terminated) leaves its failures unknown, so the activity fails rather than guess.
  const states = await readPageStates(
    client,
    { jobId: input.jobId, page: input.page, lastRound: input.round - 1 },
    { requireCompleted: true },
  );
  // One task per id (the last state of an id wins), in the order the ids first appear.
  const latest = new Map<string, ResourceState>(states.map((s) => [s.id, s]));
  const failed = [...latest.values()].filter((s) => s.status === ResourceStatus.failed);
  if (failed.length === 0) return [];
  const resources = await readStagedPage(storage, input.pageKey);
  const byId = new Map(resources.map((r) => [r.id, r]));
  // Joined by id: a handler's task may share an id with a resource on another origin.
  const tasks = failed.map((s) => {
    const headers = byId.get(s.id)?.headers;
    return { id: s.id, url: s.url, key: s.key, ...(headers ? { headers } : {}), ...(s.store !== undefined ? { store: s.store } : {}) };
  });
  return restrictTaskHeaders(tasks, resources);
}

/**
 * What loadPage hands the page workflow: tasks to run, and resources the handler failed. Its size
 * is bounded by the page budget (src/model/page-budget.ts), expansions included.
 */
export interface LoadedPage {
  tasks: DownloadTask[];
  pageResources: number;
  /** Resources whose expansion did not fit the page budget or the job's task cap: failed, kind `handler`. */
  rejected?: RejectedResource[];
  /** When the handler's expand threw: the page's resources, to be recorded as failed. */
  handlerError?: { message: string; resources: DownloadTask[] };
}

/** What the page activities need; built once per worker process by createActivities. */
export interface PageActivityDeps {
  /** The default store, where the API stages manifests and pages. */
  storage: Storage;
  /** The ledger reader's client (failedTasks). */
  client: Client;
  handlers: HandlerRegistry;
  hooks: HandlerHooks;
  /** The download attempt `downloadInline` makes each first attempt with. */
  downloadOne: DownloadOne;
}

/** A handler failure of a whole page: its resources, to be recorded as failed with kind `handler`. */
function handlerFailure(
  err: HandlerHookError,
  resources: ManifestResource[],
  ctx: HandlerContext,
): NonNullable<LoadedPage['handlerError']> {
  const keyOf = (r: ManifestResource) => r.key ?? defaultStorageKey(r, ctx);
  return { message: err.message.slice(0, 500), resources: resources.map((r) => ({ id: r.id, url: r.url, key: keyOf(r) })) };
}

/** Builds the page activities with their dependencies; createActivities registers them by name. */
export function createPageActivities({ storage, client, handlers, hooks, downloadOne }: PageActivityDeps) {
  const { contextFor } = hooks;
  return {
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
      await publishManifestDocument(storage, input);
    },

    /**
     * Reads one staged page and lets the job's handler turn it into download tasks. A handler
     * that throws does not fail the activity: its resources come back as `handlerError`, to be
     * recorded as failed with `error.kind = "handler"`. Tasks beyond the page budget or the job's
     * task cap (`maxExtraTasks`) are not taken: their resources come back `rejected`. Storage
     * outages are retried; a corrupt staged page or a bug fails non-retryably.
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
          // Within the page budget and the job's task cap (page-fit.ts); what does not fit is rejected.
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
          return { tasks: [], pageResources: resources.length, handlerError: handlerFailure(err, resources, ctx) };
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
     * A small job's whole first round in one activity (JobWorkflowInput.inlineRun): publishes the
     * inline manifest (as `publishManifest`), turns its page into tasks through the handler (as
     * `loadPage`, for handlers without `expand`), and makes each task's first attempt (as
     * `downloadBatch`, heartbeating the outcomes so far: a retried activity does not download a
     * settled resource again). One activity per job instead of three, and no page child.
     */
    async downloadInline(input: DownloadInlineInput): Promise<InlineRunResult> {
      const { jobId, handler, manifestKey, pageKey, inline } = input;
      try {
        await publishManifestDocument(storage, { jobId, manifestKey, submittedAt: input.submittedAt, inline, pageKey });
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
        return { tasks: [], pageResources: resources.length, handlerError: handlerFailure(err, resources, ctx), outcomes: [] };
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
}
