import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ErrorKind, FetchFailure, type FailureKind } from '../fetch/errors.js';
import { classifyNetworkError, type Fetcher } from '../fetch/fetcher.js';
import { restrictTaskCredentials } from '../fetch/credentials.js';
import { createFetchText } from '../handlers/fetch-text.js';
import { defaultStorageKey, type HandlerContext } from '../handlers/handler.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import { BodyRejectedError, BodyRejection, InvalidKeyError, ObjectNotFoundError, StorageError } from '../storage/errors.js';
import { userKeyProblem } from '../storage/keys.js';
import { activityRun, PAGE_RUN_METADATA, storedByRun, type ActivityRun } from './resume-check.js';
import type { Storage } from '../storage/storage.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import { pino, type Logger } from 'pino';
import type {
  BatchOutcome,
  DownloadBatchInput,
  DownloadCommon,
  DownloadFailureDetails,
  DownloadInput,
  DownloadResult,
  DownloadTask,
  InlineManifest,
  ManifestResource,
  PageResult,
  RejectedResource,
  ResourceState,
} from '../workflows/job-types.js';
import { fitPage, ioFailure, readStagedPage } from './load-page.js';
import { clipJson } from '../workflows/download-failure.js';
import { MAX_CONTENT_TYPE_BYTES, MAX_MESSAGE_BYTES } from '../workflows/page-budget.js';
import { pageWorkflowId, tierForAttempt } from '../workflows/job-types.js';

/** What the activities need; built once per worker process. */
export interface ActivityDeps {
  storage: Storage;
  fetcher: Fetcher;
  handlers: HandlerRegistry;
  /** Reads earlier rounds' page results (the ledger) when a retry round starts. */
  client: Client;
  /** A handler's settings by handler name (see handlerSettings); empty when omitted. */
  settingsFor?: (handler: string) => Record<string, string>;
  /** Where activity logs go (with jobId, resourceId, workflowId, attempt); silent when omitted. */
  logger?: Logger;
  /** The worker's own Prometheus metrics; none recorded when omitted. */
  metrics?: WorkerMetrics;
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
/** Staged manifest documents kept in memory for handler contexts (one per recent job). */
const METADATA_CACHE = 256;

function fail(
  kind: FailureKind,
  message: string,
  retryable: boolean,
  attempt: number,
  extra: { httpStatus?: number; retryAfterMs?: number } = {},
): ApplicationFailure {
  const details: DownloadFailureDetails = {
    kind,
    attempt,
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
function toFailure(err: unknown, url: string, bytesSoFar: number, expected: number | undefined, attempt: number): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof FetchFailure) {
    return fail(err.kind, err.message, err.retryable, attempt, {
      ...(err.extra.httpStatus !== undefined ? { httpStatus: err.extra.httpStatus } : {}),
      ...(err.extra.retryAfterMs !== undefined ? { retryAfterMs: err.extra.retryAfterMs } : {}),
    });
  }
  if (err instanceof BodyRejectedError) {
    return err.reason === BodyRejection.tooLarge
      ? fail(ErrorKind.tooLarge, err.message, false, attempt)
      : fail(ErrorKind.truncated, `${err.message} (${url})`, true, attempt);
  }
  if (err instanceof StorageError) return fail(ErrorKind.storage, err.message, true, attempt);
  if (err instanceof InvalidKeyError) return fail(ErrorKind.handler, err.message, false, attempt);
  // An error while the body streamed: short of Content-Length means truncated.
  const classified = classifyNetworkError(err, url);
  if (expected !== undefined && bytesSoFar < expected && classified.kind === 'connection') {
    return fail(ErrorKind.truncated, `body ended after ${bytesSoFar} of ${expected} bytes: ${classified.message}`, true, attempt);
  }
  return fail(classified.kind, classified.message, classified.retryable, attempt);
}

/**
 * The outcome of a batch download that threw: `failed` for a permanent class, `retry` for the
 * rest (with Retry-After), `timeout` when the attempt's own time budget ran out.
 */
function batchFailure(index: number, err: unknown, timedOut: boolean, budgetMs: number): BatchOutcome {
  if (timedOut) return { index, retry: { kind: ErrorKind.timeout, message: `download attempt took longer than ${budgetMs} ms` } };
  const failure = err instanceof ApplicationFailure ? err : fail(ErrorKind.storage, err instanceof Error ? err.message : String(err), true, 1);
  const details = (failure.details?.[0] ?? {}) as Partial<DownloadFailureDetails>;
  const error = {
    kind: (details.kind ?? failure.type ?? ErrorKind.storage) as ErrorKind,
    message: clipJson(failure.message, MAX_MESSAGE_BYTES),
    ...(details.httpStatus !== undefined ? { httpStatus: details.httpStatus } : {}),
  };
  if (failure.nonRetryable) return { index, failed: error };
  const delay = failure.nextRetryDelay;
  const retryAfterMs = typeof delay === 'number' ? delay : undefined;
  return { index, retry: { ...error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) } };
}

/** Thrown by a handler hook; carries the hook's name for the recorded message. */
class HandlerHookError extends Error {
  override readonly name = 'HandlerHookError';
}

/**
 * Builds the activities with their dependencies (samples-typescript style), so tests can pass
 * real or stand-in storage and fetchers. Each returned function is registered by name.
 */
export function createActivities({ storage, fetcher, handlers, client, settingsFor, logger = pino({ level: 'silent' }), metrics }: ActivityDeps) {
  const driver = storage.url.startsWith('s3:') ? 's3' : 'file';
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
  const fetchText = createFetchText({ fetcher });

  async function contextFor(jobId: string, handler: string, manifestKey: string | undefined): Promise<HandlerContext> {
    return { jobId, handler, metadata: await metadataOf(manifestKey), settings: settingsFor?.(handler) ?? {}, fetchText };
  }

  /** Runs a handler hook; anything it throws becomes a HandlerHookError naming the hook. */
  async function hook<T>(what: string, fn: () => Promise<T> | T): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const message = err instanceof FetchFailure ? err.message : err instanceof Error ? err.message : String(err);
      throw new HandlerHookError(`handler ${what} failed: ${message}`);
    }
  }

  async function toTasks(ctx: HandlerContext, resources: ManifestResource[]): Promise<DownloadTask[]> {
    const handler = handlers.get(ctx.handler);
    if (handler.expand) {
      const expand = handler.expand.bind(handler);
      // Credentials reach only the origins the manifest gave them for (fetch/credentials.ts).
      return hook('expand', async () => restrictTaskCredentials(await expand(resources, ctx), resources));
    }
    const keyFor = handler.storageKey ? handler.storageKey.bind(handler) : defaultStorageKey;
    return hook('storageKey', () =>
      resources.map((r) => ({ id: r.id, url: r.url, key: keyFor(r, ctx), ...(r.headers ? { headers: r.headers } : {}) })),
    );
  }

  /**
   * One download attempt of one task, with everything around it (skip-if-present, handler hooks,
   * proxy tier, metrics, logs). Shared by `downloadResource` (one task per activity) and
   * `downloadBatch` (many); `beat` is called while a body streams so the activity heartbeats.
   */
  async function downloadOne(input: DownloadCommon, task: DownloadTask, attempt: number, signal: AbortSignal, beat: (bytes: number) => void, run: ActivityRun): Promise<DownloadResult> {
    const { workflowId } = run;
    const started = performance.now();
    // A child logger per resource costs more than the download of a small body: made only when used.
    const log = () => logger.child({ jobId: input.jobId, resourceId: task.id, workflowId, attempt });
    const debug = logger.isLevelEnabled('debug');
    const handler = handlers.get(input.handler);
    const problem = userKeyProblem(task.key);
    if (problem !== undefined) throw fail(ErrorKind.handler, `storage key ${JSON.stringify(task.key)} ${problem}`, false, attempt);

    if (run.retried && run.runId !== undefined) {
      const stored = await storedByRun(storage, task, run.runId);
      if (stored) {
        metrics?.attempts.inc({ outcome: 'resumed', tier: 'none' });
        if (debug) log().debug({ key: task.key }, 'kept the object an earlier attempt of this page run stored');
        return { ...stored, attempts: attempt };
      }
    }

    if (input.skipExisting) {
      const existing = await storage.head(task.key).catch(() => undefined);
      const fresh =
        input.skipExisting.maxAgeMs === undefined ||
        (existing?.lastModified !== undefined && Date.now() - existing.lastModified.getTime() <= input.skipExisting.maxAgeMs);
      if (existing && fresh && existing.metadata['source-url'] === task.url && existing.metadata.sha256) {
        metrics?.attempts.inc({ outcome: 'skipped', tier: 'none' });
        if (debug) log().debug({ key: task.key }, 'kept the existing object (skip-if-present)');
        return {
          tier: 'skipped',
          skipped: true,
          bytes: existing.bytes,
          sha256: existing.metadata.sha256,
          attempts: attempt,
          finalUrl: task.url,
          ...(existing.metadata['content-type'] ? { contentType: existing.metadata['content-type'] } : {}),
        };
      }
    }

    const needsContext = handler.headers !== undefined || handler.objectOptions !== undefined;
    const ctx = needsContext ? await contextFor(input.jobId, input.handler, input.manifestKey) : undefined;
    let extraHeaders: Record<string, string> = {};
    try {
      if (handler.headers) extraHeaders = await hook('headers', () => handler.headers!(task, ctx!));
    } catch (err) {
      throw fail(ErrorKind.handler, (err as Error).message, false, attempt);
    }
    let bytesSoFar = 0;
    let expected: number | undefined;
    // Inputs recorded before proxy tiers existed carry none: those attempts go direct.
    const tier = tierForAttempt(input.proxyTiers ?? ['direct'], input.attemptsPerTier ?? 1, attempt);
    try {
      const res = await fetcher.open({
        url: task.url,
        headers: { ...task.headers, ...extraHeaders },
        maxBytes: input.maxBytes,
        signal,
        tier,
      });
      metrics?.fetchHeaders.observe({ tier }, (performance.now() - started) / 1000);
      expected = res.contentLength;
      let options: { contentType?: string; metadata?: Record<string, string> } = {};
      if (handler.objectOptions) {
        try {
          options = await hook('objectOptions', () =>
            handler.objectOptions!(task, { url: res.url, ...(res.contentType ? { contentType: res.contentType } : {}) }, ctx!),
          );
        } catch (err) {
          await res.body.dump().catch(() => undefined); // never destroy an undici body without a listener
          throw fail(ErrorKind.handler, (err as Error).message, false, attempt);
        }
      }
      const contentType = options.contentType ?? res.contentType;
      const uploadStarted = performance.now();
      const stored = await storage.put({
        key: task.key,
        body: res.body,
        ...(contentType !== undefined ? { contentType } : {}),
        ...(expected !== undefined ? { expectedBytes: expected } : {}),
        maxBytes: input.maxBytes,
        metadata: {
          ...options.metadata,
          'source-url': task.url,
          'job-id': input.jobId,
          'resource-id': task.id,
          ...(run.runId !== undefined ? { [PAGE_RUN_METADATA]: run.runId } : {}),
        },
        onProgress: (bytes) => {
          bytesSoFar = bytes;
          beat(bytes);
        },
      });
      metrics?.upload.observe({ driver }, (performance.now() - uploadStarted) / 1000);
      metrics?.bytesStored.inc(stored.bytes);
      metrics?.attempts.inc({ outcome: 'succeeded', tier });
      metrics?.download.observe({ outcome: 'succeeded' }, (performance.now() - started) / 1000);
      if (tier !== 'direct') metrics?.proxyRequests.inc({ tier, outcome: 'ok' });
      if (debug) log().debug({ key: task.key, bytes: stored.bytes, tier }, 'stored');
      return {
        tier,
        bytes: stored.bytes,
        sha256: stored.sha256,
        attempts: attempt,
        finalUrl: res.url,
        // Clipped: a batch result carries up to job.batchSize of these (page-budget.ts).
        ...(contentType !== undefined ? { contentType: clipJson(contentType, MAX_CONTENT_TYPE_BYTES) } : {}),
      };
    } catch (err) {
      const failure = toFailure(err, task.url, bytesSoFar, expected, attempt);
      if (tier !== 'direct') failure.message = `${failure.message} (via proxy tier ${tier})`;
      const kind = failure.type ?? 'unknown';
      metrics?.attempts.inc({ outcome: kind, tier });
      metrics?.download.observe({ outcome: 'failed' }, (performance.now() - started) / 1000);
      if (tier !== 'direct') metrics?.proxyRequests.inc({ tier, outcome: 'failed' });
      if (kind === ErrorKind.storage) metrics?.storageErrors.inc({ driver });
      log()[failure.nonRetryable ? 'warn' : 'info']({ kind, url: task.url, tier, retryable: !failure.nonRetryable }, failure.message);
      throw failure;
    }
  }

  /** The failed tasks of a page after every earlier round (see `failedTasks`). */
  async function failedTasksOf(input: { jobId: string; page: number; pageKey: string; round: number }): Promise<DownloadTask[]> {
    const latest = new Map<string, ResourceState>();
    for (let round = 0; round < input.round; round++) {
      let result: PageResult;
      try {
        result = (await client.workflow.getHandle(pageWorkflowId(input.jobId, input.page, round)).result()) as PageResult;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) continue; // this page had no failures in that round
        throw err;
      }
      for (const state of result.states) if (state.status !== 'pending') latest.set(state.id, state);
    }
    const failed = [...latest.values()].filter((s) => s.status === 'failed');
    if (failed.length === 0) return [];
    const resources = await readStagedPage(storage, input.pageKey);
    const byId = new Map(resources.map((r) => [r.id, r]));
    // Joined by id: a handler's task may share an id with a resource on another origin.
    const tasks = failed.map((s) => {
      const headers = byId.get(s.id)?.headers;
      return { id: s.id, url: s.url, key: s.key, ...(headers ? { headers } : {}) };
    });
    return restrictTaskCredentials(tasks, resources);
  }

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
      if (input.inline && input.pageKey) {
        await Promise.all([storage.putJson(input.pageKey, input.inline.resources), storage.putJson(input.manifestKey, input.inline.document)]);
      }
      const staged = input.inline?.document ?? (await storage.getJson<Record<string, unknown>>(input.manifestKey));
      await storage.putJson(`${input.jobId}/manifest.json`, { ...staged, submittedAt: input.submittedAt });
    },

    /**
     * Reads one staged page and lets the job's handler turn it into download tasks. A handler
     * that throws does not fail the activity: its resources come back as `handlerError`, to be
     * recorded as failed with `error.kind = "handler"`. Tasks beyond the page budget or the job's
     * task cap (`maxExtraTasks`) are not taken: their resources come back `rejected`. Storage
     * outages are retried; a corrupt staged page or a bug fails non-retryably (load-page.ts).
     */
    async loadPage(input: { jobId: string; handler: string; pageKey: string; manifestKey?: string; maxExtraTasks?: number }): Promise<LoadedPage> {
      try {
        const resources = await readStagedPage(storage, input.pageKey);
        const ctx = await contextFor(input.jobId, input.handler, input.manifestKey);
        const keyOf = (r: ManifestResource) => r.key ?? defaultStorageKey(r, ctx);
        const oneToOne = handlers.get(input.handler).expand === undefined;
        try {
          // A page of a job from before the budget (no maxExtraTasks) was cut by the old rule; its
          // resources run as they are. Expansions always stay within the budget.
          if (oneToOne && input.maxExtraTasks === undefined) return { tasks: await toTasks(ctx, resources), pageResources: resources.length };
          // Within the page budget and the job's task cap (load-page.ts); what does not fit is rejected.
          const { tasks, rejected } = await fitPage(resources, {
            expand: (rs) => toTasks(ctx, rs),
            oneToOne,
            keyOf,
            maxExtraTasks: input.maxExtraTasks,
            onResourceError: (err) => {
              if (err instanceof HandlerHookError) return err.message;
              throw err;
            },
          });
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
      return failedTasksOf(input).catch((err: unknown) => {
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
      let lastBeat = 0;
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

    /**
     * First attempt of many small downloads in one activity (Temporal's cost per activity is paid
     * once per batch, not once per resource). Runs `concurrency` downloads at once, each bounded
     * by `attemptTimeoutMs`, and heartbeats the outcomes so far: when the worker dies, the retried
     * activity resumes from its last heartbeat and never downloads a settled resource twice. Never
     * throws for one resource: each outcome is `ok`, `failed` (permanent) or `retry` (the workflow
     * retries it alone, with the job's retry policy).
     */
    async downloadBatch(input: DownloadBatchInput): Promise<BatchOutcome[]> {
      const activity = Context.current();
      const run = activityRun(activity.info);
      const outcomes: (BatchOutcome | undefined)[] = new Array<BatchOutcome | undefined>(input.tasks.length);
      const resumed = activity.info.heartbeatDetails as BatchOutcome[] | undefined;
      if (Array.isArray(resumed)) for (const o of resumed) if (o && o.index < outcomes.length) outcomes[o.index] = o;
      const settled = () => outcomes.filter((o): o is BatchOutcome => o !== undefined);
      let lastBeat = 0;
      const beat = (force = false) => {
        const now = Date.now();
        if (force || now - lastBeat >= HEARTBEAT_EVERY_MS) {
          lastBeat = now;
          activity.heartbeat(settled());
        }
      };
      let next = 0;
      const lane = async () => {
        while (next < input.tasks.length) {
          const index = next++;
          if (outcomes[index] !== undefined) continue;
          if (activity.cancellationSignal.aborted) return;
          const task = input.tasks[index]!;
          // One controller per download, aborted by its time budget or by the activity's
          // cancellation (AbortSignal.timeout/any cost more than a small download).
          const controller = new AbortController();
          let timedOut = false;
          const timer = setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, input.attemptTimeoutMs);
          const onCancel = () => controller.abort();
          activity.cancellationSignal.addEventListener('abort', onCancel, { once: true });
          try {
            const { finalUrl: _, ...result } = await downloadOne(input, task, 1, controller.signal, () => beat(), run);
            outcomes[index] = { index, ok: result };
          } catch (err) {
            if (activity.cancellationSignal.aborted) return;
            outcomes[index] = batchFailure(index, err, timedOut, input.attemptTimeoutMs);
          } finally {
            clearTimeout(timer);
            activity.cancellationSignal.removeEventListener('abort', onCancel);
          }
          beat();
        }
      };
      // Heartbeats also while every lane waits on a slow origin: that is how a cancel arrives.
      const ticker = setInterval(() => beat(), HEARTBEAT_EVERY_MS);
      try {
        await Promise.all(Array.from({ length: Math.max(1, Math.min(input.concurrency, input.tasks.length)) }, lane));
      } finally {
        clearInterval(ticker);
      }
      if (activity.cancellationSignal.aborted) {
        beat(true);
        throw activity.cancellationSignal.reason ?? new Error('canceled');
      }
      return settled();
    },
  };
}

/** The activity functions the worker registers; workflows import this type only. */
export type Activities = ReturnType<typeof createActivities>;
