import { pino, type Logger } from 'pino';
import { ErrorKind, FetchFailure } from '../fetch/errors.js';
import type { Fetcher } from '../fetch/fetcher.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import type { WorkerMetrics } from '../observability/worker-metrics.js';
import { conditionalHeaderIn } from '../fetch/header-rules.js';
import {
  VALIDATOR_METADATA,
  conditionalFor,
  requestDigest,
  servesRequest,
  validatorMetadata,
  validatorsOf,
  withoutValidatorMetadata,
  type ConditionalRequest,
} from '../fetch/validators.js';
import { jobKeyProblem } from '../storage/keys.js';
import type { ObjectInfo, Storage } from '../storage/storage.js';
import { StoreRegistry } from '../storage/store-registry.js';
import type { ObjectOptions } from '../handlers/handler.js';
import { clipJson } from '../model/failure-rules.js';
import type { DownloadCommon, DownloadResult } from '../model/download-types.js';
import type { DownloadTask } from '../model/job-types.js';
import { MAX_CONTENT_TYPE_BYTES } from '../model/page-budget.js';
import { fail, toFailure } from './failures.js';
import { hook, type HandlerHooks } from './handler-hooks.js';
import type { HostPermit, HostPermits } from './host-broker.js';
import { PAGE_RUN_METADATA, storedByRun, type ActivityRun } from './resume-check.js';
import { dropPartialIfFinal, openResumable, storeBody } from './resumable-download.js';
import { objectStorage, storageFor } from './task-store.js';

/**
 * One download attempt of one task, with everything around it (skip-if-present, handler hooks,
 * proxy tier, metrics, logs). Shared by `downloadResource` (one task per activity) and
 * `downloadBatch` (many); `beat` is called while a body streams so the activity heartbeats;
 * `slot`, when given, is taken right before the request and given back once the response body has
 * been read whole (see {@link RequestSlot}).
 */
export type DownloadOne = (
  input: DownloadCommon,
  task: DownloadTask,
  attempt: number,
  signal: AbortSignal,
  beat: (bytes: number) => void,
  run: ActivityRun,
  slot?: RequestSlot,
) => Promise<DownloadResult>;

/**
 * A polite batch's hold on one of its host's request slots, so that the origin sees at most the
 * batch's `concurrency` requests while everything around them (the key's head, the storage commit)
 * runs beside other requests. `take` waits for a free slot right before the request and may throw
 * (the host asked to be left alone meanwhile: nothing was attempted); `received` gives the slot back
 * once the origin's response body has been read whole. The batch gives it back too when the
 * attempt ends, whichever comes first.
 */
export interface RequestSlot {
  take(): Promise<void>;
  received(): void;
}

/** What a download attempt needs; built once per worker process by createActivities. */
export interface DownloadOneDeps {
  storage: Storage;
  /** The configured stores a task's `store` names; only `storage`, as `default`, when omitted. */
  stores?: StoreRegistry;
  fetcher: Fetcher;
  handlers: HandlerRegistry;
  hooks: HandlerHooks;
  logger?: Logger;
  metrics?: WorkerMetrics;
  /** Politeness per host across every job and worker (host-broker.ts); none when no host has a limit. */
  hostPermits?: HostPermits;
}

/**
 * The proxy tier for an attempt (1-based): the first `attemptsPerTier` attempts use tier 0, the
 * next ones tier 1, and so on, staying on the last. Every earlier attempt failed retryably
 * (a permanent failure ends the retries), so this is "move on when the tier fails".
 */
export function tierForAttempt(tiers: readonly string[], attemptsPerTier: number, attempt: number): string {
  if (tiers.length === 0) return 'direct';
  const index = Math.min(Math.floor((attempt - 1) / Math.max(attemptsPerTier, 1)), tiers.length - 1);
  return tiers[index]!;
}

/** A conditional re-fetch of a task: what to send, and the object a `304` keeps. */
interface Revalidation {
  conditional: ConditionalRequest;
  existing: ObjectInfo;
}

/**
 * The conditional request for `task` (conditional recrawls), or undefined: when the job's policy
 * allows it (`revalidate` not false) and the object at its key (`existing`, read once by the
 * download) is a verified object from the same URL, fetched with request headers of the same
 * digest (`digest`, validators.ts `requestDigest`), with stored validators. A key holding another
 * URL's object, or one fetched with other headers, never lends its validators.
 */
function revalidationFor(
  existing: ObjectInfo | undefined,
  input: Pick<DownloadCommon, 'revalidate'>,
  task: DownloadTask,
  digest: string,
): Revalidation | undefined {
  if (input.revalidate === false || !existing) return undefined;
  const conditional = conditionalFor(existing.metadata, task.url, digest);
  return conditional ? { conditional, existing } : undefined;
}

/**
 * The result of a `304 Not Modified`: the existing object's size and sha256 as storage recorded
 * them when it verified the body (never the 304's own headers), nothing uploaded.
 */
function notModifiedResult(existing: ObjectInfo, tier: string, attempt: number, finalUrl: string): DownloadResult {
  const contentType = existing.metadata['content-type'];
  return {
    tier,
    notModified: true,
    bytes: existing.bytes,
    sha256: existing.metadata.sha256!,
    attempts: attempt,
    finalUrl,
    ...(contentType ? { contentType } : {}),
  };
}

/** Statuses whose `Retry-After` pauses every download of the host, not only this resource's retry. */
const HOST_PAUSE_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/** Heartbeats this often while a download waits for its host's permit (the activity must not look dead). */
const PERMIT_WAIT_BEAT_MS = 1_000;

/**
 * Waits for the permit of the task's host, heartbeating while it waits; a host without a limit
 * answers at once.
 */
async function permitFor(hostPermits: HostPermits, url: string, signal: AbortSignal, beat: (bytes: number) => void): Promise<HostPermit> {
  const pending = hostPermits.acquire(url, signal);
  let waiting = true;
  void pending.finally(() => (waiting = false)).catch(() => undefined);
  await Promise.resolve();
  if (!waiting) return pending;
  const ticker = setInterval(() => beat(0), PERMIT_WAIT_BEAT_MS);
  try {
    return await pending;
  } finally {
    clearInterval(ticker);
  }
}

/** Builds the download attempt the download activities share, bound to the worker's dependencies. */
export function createDownloadOne({
  storage: defaultStorage,
  stores = new StoreRegistry(defaultStorage),
  fetcher,
  handlers,
  hooks,
  logger = pino({ level: 'silent' }),
  metrics,
  hostPermits,
}: DownloadOneDeps): DownloadOne {
  return async function downloadOne(input, task, attempt, signal, beat, run, slot) {
    const { workflowId } = run;
    const started = performance.now();
    // A child logger per resource costs more than the download of a small body: made only when used.
    const log = () => logger.child({ jobId: input.jobId, resourceId: task.id, workflowId, attempt });
    const debug = logger.isLevelEnabled('debug');
    const handler = handlers.get(input.handler);
    const problem = jobKeyProblem(input.jobId, task.key);
    if (problem !== undefined) throw fail(ErrorKind.handler, `storage key ${JSON.stringify(task.key)} ${problem}`, attempt);
    // The task's store: skip-if-present, conditional requests and the resume check look there.
    const storage = storageFor(stores, task.store, attempt);
    const driver = storage.url.startsWith('s3:') ? 's3' : 'file';

    if (run.retried && run.runId !== undefined) {
      const stored = await storedByRun(storage, task, run.runId);
      if (stored) {
        metrics?.attempts.inc({ outcome: 'resumed', tier: 'none' });
        if (debug) log().debug({ key: task.key }, 'kept the object an earlier attempt of this page run stored');
        return { ...stored, attempts: attempt };
      }
    }

    const needsContext = handler.headers !== undefined || handler.objectOptions !== undefined;
    const ctx = needsContext ? await hooks.contextFor(input.jobId, input.handler, input.manifestKey) : undefined;
    let extraHeaders: Record<string, string> = {};
    try {
      if (handler.headers) extraHeaders = await hook('headers', () => handler.headers!(task, ctx!));
    } catch (err) {
      throw fail(ErrorKind.handler, (err as Error).message, attempt);
    }
    const headers = { ...task.headers, ...extraHeaders };
    // Range and conditional headers are FetchBox's own (header-rules.ts): the API refuses them in
    // a manifest; a handler's task or hook that sets one gets this answer.
    const partialHeader = conditionalHeaderIn(headers);
    if (partialHeader !== undefined) {
      throw fail(
        ErrorKind.handler,
        `request header ${partialHeader} makes the request partial or conditional; FetchBox stores whole representations and sets these itself`,
        attempt,
      );
    }
    // What the key holds now: one read serves the key-reuse check, skip-if-present and revalidation.
    const digest = requestDigest(headers);
    const existing = await storage.head(task.key).catch(() => undefined);
    const holder = existing?.metadata['resource-id'];
    if (existing?.metadata['job-id'] === input.jobId && holder !== undefined && holder !== task.id) {
      throw fail(
        ErrorKind.handler,
        `storage key ${JSON.stringify(task.key)} already holds resource ${JSON.stringify(holder)} of this job`,
        attempt,
      );
    }

    if (input.skipExisting && existing) {
      const fresh =
        input.skipExisting.maxAgeMs === undefined ||
        (existing.lastModified !== undefined && Date.now() - existing.lastModified.getTime() <= input.skipExisting.maxAgeMs);
      if (fresh && servesRequest(existing.metadata, task.url, digest)) {
        metrics?.attempts.inc({ outcome: 'skipped', tier: 'none' });
        if (debug) log().debug({ key: task.key }, 'kept the existing object (skip-if-present)');
        return {
          tier: 'skipped',
          skipped: true,
          bytes: existing.bytes,
          sha256: existing.metadata.sha256!,
          attempts: attempt,
          finalUrl: task.url,
          ...(existing.metadata['content-type'] ? { contentType: existing.metadata['content-type'] } : {}),
        };
      }
    }

    await slot?.take();
    let bytesSoFar = 0;
    let expected: number | undefined;
    // Inputs recorded before proxy tiers existed carry none: those attempts go direct.
    const tier = tierForAttempt(input.proxyTiers ?? ['direct'], input.attemptsPerTier ?? 1, attempt);
    // The host's permit covers the whole request and body: released once stored, or when the attempt failed.
    let permit: HostPermit | undefined;
    try {
      if (hostPermits) permit = await permitFor(hostPermits, task.url, signal, beat);
      // Conditional recrawl: an object stored earlier from this URL with these headers, with validators, is asked about.
      const revalidation = revalidationFor(existing, input, task, digest);
      // A retry continues an interrupted large body from its stored prefix where the origin allows (Range + If-Range).
      const opened = await openResumable(
        fetcher,
        storage,
        task,
        {
          url: task.url,
          headers,
          maxBytes: input.maxBytes,
          signal,
          tier,
          ...(revalidation ? { conditional: revalidation.conditional } : {}),
        },
        attempt > 1 || run.retried,
      );
      const { res } = opened;
      if (slot) res.body.once('end', () => slot.received());
      metrics?.fetchHeaders.observe({ tier }, (performance.now() - started) / 1000);
      if (res.status === 304 && revalidation) {
        metrics?.attempts.inc({ outcome: 'not_modified', tier });
        metrics?.download.observe({ outcome: 'succeeded' }, (performance.now() - started) / 1000);
        if (tier !== 'direct') metrics?.proxyRequests.inc({ tier, outcome: 'ok' });
        if (debug) log().debug({ key: task.key, tier }, 'not modified: kept the existing object');
        return notModifiedResult(revalidation.existing, tier, attempt, res.url);
      }
      expected = opened.partial?.total ?? res.contentLength;
      let options: ObjectOptions = {};
      let target: { storage: Storage; store?: string } = { storage };
      if (handler.objectOptions) {
        try {
          options = await hook('objectOptions', () =>
            handler.objectOptions!(
              task,
              {
                url: res.url,
                ...(res.contentType ? { contentType: res.contentType } : {}),
                ...(expected !== undefined ? { contentLength: expected } : {}),
              },
              ctx!,
            ),
          );
          target = objectStorage(stores, task, storage, options, attempt);
        } catch (err) {
          await res.body.dump().catch(() => undefined); // never destroy an undici body without a listener
          throw fail(ErrorKind.handler, (err as Error).message, attempt);
        }
      }
      const contentType = options.contentType ?? res.contentType;
      const metadata = {
        ...withoutValidatorMetadata(options.metadata),
        'source-url': task.url,
        'job-id': input.jobId,
        'resource-id': task.id,
        [VALIDATOR_METADATA.requestDigest]: digest,
        ...(run.runId !== undefined ? { [PAGE_RUN_METADATA]: run.runId } : {}),
      };
      const uploadStarted = performance.now();
      const stored = await storeBody(target.storage, storage, opened, {
        key: task.key,
        body: res.body,
        ...(contentType !== undefined ? { contentType } : {}),
        ...(expected !== undefined ? { expectedBytes: expected } : {}),
        maxBytes: input.maxBytes,
        metadata: { ...metadata, ...validatorMetadata(validatorsOf(res), task.url, res.url, metadata) },
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
        ...(target.store !== undefined ? { store: target.store } : {}),
        // Clipped: a batch result carries up to job.batchSize of these (page-budget.ts).
        ...(contentType !== undefined ? { contentType: clipJson(contentType, MAX_CONTENT_TYPE_BYTES) } : {}),
      };
    } catch (err) {
      if (
        hostPermits &&
        err instanceof FetchFailure &&
        err.extra.retryAfterMs !== undefined &&
        HOST_PAUSE_STATUSES.has(err.extra.httpStatus ?? 0)
      ) {
        hostPermits.pause(err.extra.url, Date.now() + err.extra.retryAfterMs);
      }
      permit?.release();
      permit = undefined;
      const failure = toFailure(err, task.url, bytesSoFar, expected, attempt);
      // A resource that failed for good leaves no partial download behind (dropPartialIfFinal, resumable-download.ts).
      await dropPartialIfFinal(storage, task, failure, run);
      if (tier !== 'direct') failure.message = `${failure.message} (via proxy tier ${tier})`;
      const kind = failure.type ?? 'unknown';
      metrics?.attempts.inc({ outcome: kind, tier });
      metrics?.download.observe({ outcome: 'failed' }, (performance.now() - started) / 1000);
      if (tier !== 'direct') metrics?.proxyRequests.inc({ tier, outcome: 'failed' });
      if (kind === ErrorKind.storage) metrics?.storageErrors.inc({ driver });
      log()[failure.nonRetryable ? 'warn' : 'info']({ kind, url: task.url, tier, retryable: !failure.nonRetryable }, failure.message);
      throw failure;
    } finally {
      permit?.release();
    }
  };
}
