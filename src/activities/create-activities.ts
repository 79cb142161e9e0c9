import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ErrorKind, FetchFailure, type FailureKind } from '../fetch/errors.js';
import { classifyNetworkError, type Fetcher } from '../fetch/fetcher.js';
import { defaultStorageKey, type HandlerContext } from '../handlers/handler.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import { BodyRejectedError, BodyRejection, InvalidKeyError, StorageError } from '../storage/errors.js';
import { keyProblem } from '../storage/keys.js';
import type { Storage } from '../storage/storage.js';
import type {
  DownloadFailureDetails,
  DownloadInput,
  DownloadResult,
  DownloadTask,
  ManifestResource,
  PageResult,
  ResourceState,
} from '../workflows/job-types.js';
import { pageWorkflowId, tierForAttempt } from '../workflows/job-types.js';

/** What the activities need; built once per worker process. */
export interface ActivityDeps {
  storage: Storage;
  fetcher: Fetcher;
  handlers: HandlerRegistry;
  /** Reads earlier rounds' page results (the ledger) when a retry round starts. */
  client: Client;
}

/** Heartbeats at most this often while a body streams, whatever the chunk rate. */
const HEARTBEAT_EVERY_MS = 1_000;

function fail(kind: FailureKind, message: string, retryable: boolean, extra: { httpStatus?: number; retryAfterMs?: number } = {}): ApplicationFailure {
  const details: DownloadFailureDetails = {
    kind,
    attempt: Context.current().info.attempt,
    ...(extra.httpStatus !== undefined ? { httpStatus: extra.httpStatus } : {}),
  };
  return ApplicationFailure.create({
    type: kind,
    message,
    nonRetryable: !retryable,
    details: [details],
    ...(retryable && extra.retryAfterMs !== undefined ? { nextRetryDelay: extra.retryAfterMs } : {}),
  });
}

/** Turns anything a download attempt threw into a classified ApplicationFailure. */
function toFailure(err: unknown, url: string, bytesSoFar: number, expected: number | undefined): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof FetchFailure) {
    return fail(err.kind, err.message, err.retryable, {
      ...(err.extra.httpStatus !== undefined ? { httpStatus: err.extra.httpStatus } : {}),
      ...(err.extra.retryAfterMs !== undefined ? { retryAfterMs: err.extra.retryAfterMs } : {}),
    });
  }
  if (err instanceof BodyRejectedError) {
    return err.reason === BodyRejection.tooLarge
      ? fail(ErrorKind.tooLarge, err.message, false)
      : fail(ErrorKind.truncated, `${err.message} (${url})`, true);
  }
  if (err instanceof StorageError) return fail(ErrorKind.storage, err.message, true);
  if (err instanceof InvalidKeyError) return fail(ErrorKind.handler, err.message, false);
  // An error while the body streamed: short of Content-Length means truncated.
  const classified = classifyNetworkError(err, url);
  if (expected !== undefined && bytesSoFar < expected && classified.kind === 'connection') {
    return fail(ErrorKind.truncated, `body ended after ${bytesSoFar} of ${expected} bytes: ${classified.message}`, true);
  }
  return fail(classified.kind, classified.message, classified.retryable);
}

/**
 * Builds the activities with their dependencies (samples-typescript style), so tests can pass
 * real or stand-in storage and fetchers. Each returned function is registered by name.
 */
export function createActivities({ storage, fetcher, handlers, client }: ActivityDeps) {
  async function runHook<T>(what: string, fn: () => Promise<T> | T): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw fail(ErrorKind.handler, `handler ${what} failed: ${message}`, false);
    }
  }

  async function toTasks(input: { jobId: string; handler: string }, resources: ManifestResource[]): Promise<DownloadTask[]> {
    const handler = handlers.get(input.handler);
    const ctx: HandlerContext = { jobId: input.jobId, handler: input.handler };
    if (handler.expand) {
      const expand = handler.expand.bind(handler);
      return runHook('expand', () => expand(resources, ctx));
    }
    const keyFor = handler.storageKey ? handler.storageKey.bind(handler) : defaultStorageKey;
    return runHook('storageKey', () =>
      resources.map((r) => ({ id: r.id, url: r.url, key: keyFor(r, ctx), ...(r.headers ? { headers: r.headers } : {}) })),
    );
  }

  return {
    /**
     * Copies the staged manifest document to `<jobId>/manifest.json`, beside the job's objects.
     * Runs in the workflow so only the job that won the jobId publishes it.
     */
    async publishManifest(input: { jobId: string; handler: string; manifestKey: string; submittedAt: string }): Promise<void> {
      const staged = await storage.getJson<Record<string, unknown>>(input.manifestKey);
      await storage.putJson(`${input.jobId}/manifest.json`, { ...staged, submittedAt: input.submittedAt });
    },

    /** Reads one staged page and lets the job's handler turn it into download tasks. */
    async loadPage(input: { jobId: string; handler: string; pageKey: string }): Promise<{ tasks: DownloadTask[]; pageResources: number }> {
      const resources = await storage.getJson<ManifestResource[]>(input.pageKey);
      return { tasks: await toTasks(input, resources), pageResources: resources.length };
    },

    /**
     * The tasks of a page that are still failed after every earlier round, read from those rounds'
     * results in Temporal (the ledger) and joined with the staged page for their headers.
     */
    async failedTasks(input: { jobId: string; handler: string; page: number; pageKey: string; round: number }): Promise<DownloadTask[]> {
      const latest = new Map<string, ResourceState>();
      for (let round = 0; round < input.round; round++) {
        let result: PageResult;
        try {
          result = (await client.workflow.getHandle(pageWorkflowId(input.jobId, input.page, round)).result()) as PageResult;
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) continue; // this page had no failures in that round
          throw err;
        }
        for (const state of result.states) latest.set(state.id, state);
      }
      const failed = [...latest.values()].filter((s) => s.status === 'failed');
      if (failed.length === 0) return [];
      const resources = await storage.getJson<ManifestResource[]>(input.pageKey);
      const byId = new Map(resources.map((r) => [r.id, r]));
      return failed.map((s) => {
        const headers = byId.get(s.id)?.headers;
        return { id: s.id, url: s.url, key: s.key, ...(headers ? { headers } : {}) };
      });
    },

    /**
     * Downloads one resource and streams it into storage, verifying size and sha256 on the way.
     * Throws a classified ApplicationFailure: `type` is the failure kind, `nonRetryable` marks
     * permanent failures, and `nextRetryDelay` carries the origin's Retry-After.
     */
    async downloadResource(input: DownloadInput): Promise<DownloadResult> {
      const ctx = Context.current();
      const { task } = input;
      const handler = handlers.get(input.handler);
      const problem = keyProblem(task.key);
      if (problem !== undefined) throw fail(ErrorKind.handler, `storage key ${JSON.stringify(task.key)} ${problem}`, false);
      const extraHeaders = handler.headers
        ? await runHook('headers', () => handler.headers!(task, { jobId: input.jobId, handler: input.handler }))
        : {};
      let bytesSoFar = 0;
      let expected: number | undefined;
      let lastBeat = 0;
      // Inputs recorded before proxy tiers existed carry none: those attempts go direct.
      const tier = tierForAttempt(input.proxyTiers ?? ['direct'], input.attemptsPerTier ?? 1, ctx.info.attempt);
      try {
        const res = await fetcher.open({
          url: task.url,
          headers: { ...task.headers, ...extraHeaders },
          maxBytes: input.maxBytes,
          signal: ctx.cancellationSignal,
          tier,
        });
        expected = res.contentLength;
        const stored = await storage.put({
          key: task.key,
          body: res.body,
          ...(res.contentType !== undefined ? { contentType: res.contentType } : {}),
          ...(expected !== undefined ? { expectedBytes: expected } : {}),
          maxBytes: input.maxBytes,
          metadata: { 'source-url': task.url, 'job-id': input.jobId, 'resource-id': task.id },
          onProgress: (bytes) => {
            bytesSoFar = bytes;
            const now = Date.now();
            if (now - lastBeat >= HEARTBEAT_EVERY_MS) {
              lastBeat = now;
              ctx.heartbeat(bytes);
            }
          },
        });
        return {
          tier,
          bytes: stored.bytes,
          sha256: stored.sha256,
          attempts: ctx.info.attempt,
          finalUrl: res.url,
          ...(res.contentType !== undefined ? { contentType: res.contentType } : {}),
        };
      } catch (err) {
        const failure = toFailure(err, task.url, bytesSoFar, expected);
        if (tier !== 'direct') failure.message = `${failure.message} (via proxy tier ${tier})`;
        throw failure;
      }
    },
  };
}

/** The activity functions the worker registers; workflows import this type only. */
export type Activities = ReturnType<typeof createActivities>;
