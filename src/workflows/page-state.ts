import { isCancellation, metricMeter, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import { downloadOptions, ioOptions, type DownloadOptions } from './activity-options.js';
import { downloadFailure } from './download-failure.js';
import { clipJson } from '../model/failure-rules.js';
import { MAX_CONTENT_TYPE_BYTES, MAX_MESSAGE_BYTES } from '../model/page-budget.js';
import { ErrorKind, ResourceStatus } from '../model/constants.js';
import { type DownloadCommon, type InlineRunResult } from '../model/download-types.js';
import {
  type DownloadTask,
  type PageProgress,
  type PageResult,
  type PageWorkflowInput,
  type RejectedResource,
  type ResourceError,
  type ResourceState,
} from '../model/job-types.js';

/** What a successful download reports into a resource's state. */
export interface DownloadSuccess {
  attempts: number;
  bytes: number;
  sha256: string;
  contentType?: string;
  notModified?: boolean;
  /** The store the handler's objectOptions chose once the response was in, when not the task's. */
  store?: string;
}

/** Whether the page has downloads to run, or ended already (its handler could not expand it). */
export type PageLoad = 'ready' | 'handler-failed';

/**
 * One page round's state: its tasks, the state of each resource, the counts, and the downloads in
 * flight. The schedulers (page-*-scheduler.ts) decide what to start; every outcome is recorded
 * here, so the counts, the `fetchbox_resources` metric and the returned states agree.
 */
export class PageState {
  readonly states: ResourceState[] = [];
  tasks: DownloadTask[] = [];
  rejected: RejectedResource[] = [];
  pageResources = 0;
  succeeded = 0;
  failed = 0;
  bytes = 0;
  /** Download slots taken: one per lone download, `lanes` per batch. */
  inFlight = 0;
  canceled = false;
  readonly downloadOptions: DownloadOptions;
  /** What every download activity needs besides its task(s). */
  readonly common: DownloadCommon;
  private readonly activities: ReturnType<typeof proxyActivities<Activities>>;
  /** `loadPage` and `failedTasks`, waiting out a storage outage as `publishManifest` does. */
  private readonly io = proxyActivities<Activities>(ioOptions());
  // Emitted by Temporal's metrics exporter (not during replay), beside its SDK metrics.
  private readonly outcomes = metricMeter.createCounter(
    'fetchbox_resources',
    '',
    'Resources that reached an outcome in a page round, by outcome and error kind.',
  );

  constructor(readonly input: PageWorkflowInput) {
    const { policy } = input;
    this.downloadOptions = downloadOptions(policy);
    this.activities = proxyActivities<Activities>(this.downloadOptions);
    this.common = {
      jobId: input.jobId,
      handler: input.handler,
      maxBytes: policy.maxBytes,
      proxyTiers: policy.proxyTiers,
      attemptsPerTier: policy.attemptsPerTier,
      ...(policy.skipExisting ? { skipExisting: policy.skipExisting } : {}),
      ...(policy.revalidate === false ? { revalidate: false as const } : {}),
      manifestKey: input.manifestKey,
    };
  }

  /** Downloads in flight in this page at most. */
  get window(): number {
    return this.input.window;
  }

  /** The `pageSummary` query's answer. */
  progress(): PageProgress {
    const { page, round } = this.input;
    return {
      page,
      round,
      tasks: this.tasks.length + this.rejected.length,
      succeeded: this.succeeded,
      failed: this.failed,
      bytes: this.bytes,
    };
  }

  /**
   * Loads the round's download tasks: round 0 the staged page through the handler (`loadPage`;
   * resources its expansion did not fit fail with kind `handler`, after the tasks); retry rounds the
   * resources still failed after earlier rounds (`failedTasks`). Every task starts pending.
   */
  async load(): Promise<PageLoad> {
    const { jobId, handler, page, round, pageKey, manifestKey, maxExtraTasks, policy } = this.input;
    if (round === 0) {
      const loaded = await this.io.loadPage({
        jobId,
        handler,
        pageKey,
        manifestKey,
        ...(maxExtraTasks !== undefined ? { maxExtraTasks } : {}),
        ...(policy.store !== undefined ? { store: policy.store } : {}),
      });
      return this.recordLoaded(loaded);
    }
    return this.recordTasks(await this.io.failedTasks({ jobId, handler, page, pageKey, round }));
  }

  /**
   * Records a first round's tasks as the handler made them (loadPage's answer, or the inline run's):
   * every task pending, then the resources its expansion did not fit failed with kind `handler`. A
   * page the handler could not expand at all fails every resource with kind `handler`.
   */
  recordLoaded(loaded: Omit<InlineRunResult, 'outcomes'>): PageLoad {
    this.pageResources = loaded.pageResources;
    if (loaded.handlerError) {
      const error = { kind: ErrorKind.handler, message: clipJson(loaded.handlerError.message, MAX_MESSAGE_BYTES) };
      for (const r of loaded.handlerError.resources) {
        this.states.push({ id: r.id, url: r.url, key: r.key, status: ResourceStatus.failed, attempts: 1, error });
      }
      this.failed = this.states.length;
      this.countFailedWithoutDownload(this.failed, ErrorKind.handler);
      this.tasks = loaded.handlerError.resources;
      return 'handler-failed';
    }
    return this.recordTasks(loaded.tasks, loaded.rejected ?? []);
  }

  /** Records `tasks` as pending and `rejected` as failed (`handler`), in that order. */
  recordTasks(tasks: DownloadTask[], rejected: RejectedResource[] = []): PageLoad {
    this.tasks = tasks;
    this.rejected = rejected;
    for (const task of tasks) {
      this.states.push({
        id: task.id,
        url: task.url,
        key: task.key,
        status: ResourceStatus.pending,
        attempts: 0,
        ...(task.store !== undefined ? { store: task.store } : {}),
      });
    }
    for (const r of rejected) {
      const error = { kind: ErrorKind.handler, message: clipJson(r.message, MAX_MESSAGE_BYTES) };
      this.states.push({ id: r.id, url: r.url, key: r.key, status: ResourceStatus.failed, attempts: 1, error });
    }
    this.failed += rejected.length;
    this.countFailedWithoutDownload(rejected.length, ErrorKind.handler);
    return 'ready';
  }

  /** Records that the task at `index` made its first attempt in a batch and waits to be retried alone. */
  attemptedInBatch(index: number): void {
    this.states[index]!.attempts = 1;
  }

  /** Records that the page round was canceled: what is still pending stays pending. */
  markCanceled(): void {
    this.canceled = true;
  }

  /** Records a stored resource. */
  succeed(state: ResourceState, result: DownloadSuccess): void {
    state.status = ResourceStatus.succeeded;
    state.attempts = result.attempts;
    state.bytes = result.bytes;
    state.sha256 = result.sha256;
    if (result.contentType !== undefined) state.contentType = clipJson(result.contentType, MAX_CONTENT_TYPE_BYTES);
    if (result.notModified === true) state.notModified = true;
    if (result.store !== undefined) state.store = result.store;
    this.succeeded++;
    this.bytes += result.bytes;
    this.outcomes.add(1, { outcome: 'succeeded', kind: 'none', handler: this.input.handler });
  }

  /** Records a resource that failed for good, its message clipped to the page budget. */
  failWith(state: ResourceState, error: ResourceError, attempts: number): void {
    state.status = ResourceStatus.failed;
    state.attempts = attempts;
    state.error = { ...error, message: clipJson(error.message, MAX_MESSAGE_BYTES) };
    this.failed++;
    this.outcomes.add(1, { outcome: 'failed', kind: error.kind, handler: this.input.handler });
  }

  /** Counts `count` resources that failed without a download (handler refusals), in the metric. */
  countFailedWithoutDownload(count: number, kind: ResourceError['kind']): void {
    if (count > 0) this.outcomes.add(count, { outcome: 'failed', kind, handler: this.input.handler });
  }

  /**
   * Every attempt of one resource in its own activity (or, with `attemptOffset` 1, the attempts
   * after the one a batch made, under `options` shifted to match). The caller took its slot
   * (`inFlight++`); it is given back when the download settles.
   */
  async download(
    task: DownloadTask,
    state: ResourceState,
    options: DownloadOptions = this.downloadOptions,
    attemptOffset = 0,
  ): Promise<void> {
    const { downloadResource } = this.activities;
    try {
      const input = { ...this.common, task, ...(attemptOffset > 0 ? { attemptOffset } : {}) };
      const result = await downloadResource.executeWithOptions({ ...options, summary: task.url.slice(0, 200) }, [input]);
      this.succeed(state, result);
    } catch (err) {
      if (isCancellation(err)) return; // stays pending: the job was canceled
      const { error, attempts } = downloadFailure(err, Math.max(state.attempts, 1), options.retry.maximumAttempts + attemptOffset);
      this.failWith(state, error, attempts);
    } finally {
      this.inFlight--;
    }
  }

  /** What the page workflow returns: the counts and every resource's state. */
  result(): PageResult {
    const { page, round } = this.input;
    const { pageResources, succeeded, failed, bytes, canceled, states } = this;
    return { page, round, pageResources, tasks: this.tasks.length + this.rejected.length, succeeded, failed, bytes, canceled, states };
  }
}
