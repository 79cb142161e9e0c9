import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  defineQuery,
  isCancellation,
  proxyActivities,
  setHandler,
  TimeoutFailure,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  ErrorKind,
  JobStatus,
  ResourceStatus,
  type DownloadFailureDetails,
  type DownloadTask,
  type JobProgress,
  type JobWorkflowInput,
  type ResourceError,
  type ResourcesPage,
  type ResourcesQuery,
  type ResourceState,
} from './job-types.js';
import { SearchAttributes } from './search-attributes.js';

/** Live job counts; answered from workflow memory, no history scan. */
export const summaryQuery = defineQuery<JobProgress>('summary');
/** A page of per-resource states in manifest order, optionally filtered by status. */
export const resourcesQuery = defineQuery<ResourcesPage, [ResourcesQuery]>('resources');

/** Largest page the `resources` query returns, whatever the caller asks for. */
const MAX_QUERY_PAGE = 1_000;

function failureOf(err: unknown, attemptsSoFar: number): { error: ResourceError; attempts: number } {
  let cause: unknown = err;
  let exhausted = false;
  if (err instanceof ActivityFailure) {
    cause = err.cause;
    exhausted = err.retryState === 'MAXIMUM_ATTEMPTS_REACHED';
  }
  if (cause instanceof ApplicationFailure) {
    const details = (cause.details?.[0] ?? {}) as Partial<DownloadFailureDetails>;
    const attempts = details.attempt ?? attemptsSoFar;
    const raw = details.kind ?? cause.type ?? ErrorKind.storage;
    // A retryable class that ran out of attempts: timeouts, truncation and storage keep their
    // own kind (they say what to fix); HTTP 5xx/429 and connection errors become retries_exhausted.
    const known = (Object.values(ErrorKind) as string[]).includes(raw) ? (raw as ErrorKind) : ErrorKind.retriesExhausted;
    const keepsKind = known === ErrorKind.timeout || known === ErrorKind.truncated || known === ErrorKind.storage;
    const kind = exhausted && !keepsKind ? ErrorKind.retriesExhausted : known;
    return {
      attempts,
      error: {
        kind,
        message: cause.message,
        ...(details.httpStatus !== undefined ? { httpStatus: details.httpStatus } : {}),
      },
    };
  }
  if (cause instanceof TimeoutFailure) {
    return { attempts: attemptsSoFar, error: { kind: ErrorKind.timeout, message: `activity ${cause.timeoutType} timeout` } };
  }
  return { attempts: attemptsSoFar, error: { kind: ErrorKind.storage, message: err instanceof Error ? err.message : String(err) } };
}

/**
 * One job: loads the staged manifest page by page, downloads every resource through the
 * `downloadResource` activity with at most `policy.concurrency` in flight (a sliding window),
 * and keeps each resource's state for the `summary` and `resources` queries. Completes with
 * `completed` or `completed_with_failures`; per-resource failures never fail the workflow.
 */
export async function jobWorkflow(input: JobWorkflowInput): Promise<JobProgress> {
  const { jobId, handler, policy, manifest } = input;
  const { retry } = policy;
  const io = proxyActivities<Activities>({
    startToCloseTimeout: '5 minutes',
    retry: { maximumAttempts: 10, initialInterval: '1 second', maximumInterval: '1 minute' },
  });
  const downloads = proxyActivities<Activities>({
    startToCloseTimeout: policy.attemptTimeoutMs,
    heartbeatTimeout: policy.heartbeatTimeoutMs,
    retry: {
      maximumAttempts: retry.maximumAttempts,
      initialInterval: retry.initialIntervalMs,
      backoffCoefficient: retry.backoffCoefficient,
      maximumInterval: retry.maximumIntervalMs,
      // No nonRetryableErrorTypes: `http_status` is permanent for 404 and retryable for 503, so
      // the activity marks each failure nonRetryable itself.
    },
  });

  const states: ResourceState[] = [];
  let succeeded = 0;
  let failed = 0;
  let bytes = 0;
  let status: JobStatus = JobStatus.running;

  const progress = (): JobProgress => ({
    jobId,
    handler,
    status,
    resources: { total: manifest.total, succeeded, failed, pending: manifest.total - succeeded - failed },
    bytes,
  });
  setHandler(summaryQuery, progress);
  setHandler(resourcesQuery, ({ status: wanted, from = 0, limit }) => {
    const items: ResourceState[] = [];
    const max = Math.min(Math.max(limit, 1), MAX_QUERY_PAGE);
    let i = Math.max(from, 0);
    for (; i < states.length && items.length < max; i++) {
      const state = states[i]!;
      if (wanted === undefined || state.status === wanted) items.push(state);
    }
    // Resources not loaded yet are pending and listed once their page is loaded.
    const more = i < states.length || (states.length < manifest.total && wanted !== ResourceStatus.succeeded && wanted !== ResourceStatus.failed);
    return { items, next: more ? i : null };
  });

  const publishCounts = () =>
    upsertSearchAttributes([
      { key: SearchAttributes.status, value: status },
      { key: SearchAttributes.succeeded, value: succeeded },
      { key: SearchAttributes.failed, value: failed },
      { key: SearchAttributes.bytes, value: bytes },
    ]);

  upsertSearchAttributes([
    { key: SearchAttributes.handler, value: handler },
    { key: SearchAttributes.total, value: manifest.total },
  ]);
  publishCounts();

  await io.publishManifest({ jobId, handler, manifestKey: manifest.manifestKey, submittedAt: input.submittedAt });

  let inFlight = 0;
  const download = async (task: DownloadTask, state: ResourceState): Promise<void> => {
    try {
      const result = await downloads.downloadResource({ jobId, handler, task, maxBytes: policy.maxBytes });
      state.status = ResourceStatus.succeeded;
      state.attempts = result.attempts;
      state.bytes = result.bytes;
      state.sha256 = result.sha256;
      if (result.contentType !== undefined) state.contentType = result.contentType;
      succeeded++;
      bytes += result.bytes;
    } catch (err) {
      if (isCancellation(err)) throw err;
      const { error, attempts } = failureOf(err, Math.max(state.attempts, 1));
      state.status = ResourceStatus.failed;
      state.attempts = attempts;
      state.error = error;
      failed++;
    } finally {
      inFlight--;
    }
  };

  const running: Promise<void>[] = [];
  for (const pageKey of manifest.pageKeys) {
    const tasks = await io.loadPage({ jobId, handler, pageKey });
    for (const task of tasks) {
      const state: ResourceState = { id: task.id, url: task.url, key: task.key, status: ResourceStatus.pending, attempts: 0 };
      states.push(state);
      await condition(() => inFlight < policy.concurrency);
      inFlight++;
      running.push(download(task, state));
    }
    publishCounts();
  }
  await Promise.all(running);

  status = failed > 0 ? JobStatus.completedWithFailures : JobStatus.completed;
  publishCounts();
  return progress();
}
