import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type {
  BatchOutcome,
  DownloadBatchInput,
  DownloadInlineInput,
  DownloadInput,
  DownloadResult,
  InlineRunResult,
} from '../../src/model/download-types.js';
import type { DownloadTask } from '../../src/model/job-types.js';
import type { DeliverWebhookInput, DeliverWebhookResult } from '../../src/model/notify-types.js';

/** What one mocked job does: its pages' tasks, how long a download takes, which URLs fail once. */
export interface MockJobPlan {
  pages: DownloadTask[][];
  delayMs: number;
  /** URLs whose first download fails for good (404); later rounds succeed. */
  failOnce?: ReadonlySet<string>;
  /** Downloads heartbeat until canceled instead of finishing. */
  hang?: boolean;
  /** Pages whose loadPage fails for good (their page workflow fails, and so will the job). */
  failLoadPages?: ReadonlySet<number>;
  /** Batch outcomes: URLs whose batch attempt fails retryably (`retry`, Retry-After 50 ms); later attempts succeed. */
  retryInBatch?: ReadonlySet<string>;
  /** Batch outcomes: URLs whose batch attempt fails for good (`failed`, 404). */
  failInBatch?: ReadonlySet<string>;
  /**
   * Batch outcomes: URLs whose first batch attempt is a 429 with this Retry-After (ms). With
   * `pauseOnRetryAfter`, the batch then leaves out its later tasks on that host, as the activity does.
   */
  retryAfterInBatch?: ReadonlyMap<string, number>;
  /** deliverWebhook: attempts that fail retryably (HTTP 500) before one is delivered; `gone`: the first answers 410; `gate`: each attempt waits for it. */
  webhook?: { failures?: number; gone?: boolean; gate?: Promise<void> };
}

/** In-flight counter with its peak, per key. */
class Gauge {
  readonly now = new Map<string, number>();
  readonly peak = new Map<string, number>();
  up(key: string): void {
    const n = (this.now.get(key) ?? 0) + 1;
    this.now.set(key, n);
    this.peak.set(key, Math.max(this.peak.get(key) ?? 0, n));
  }
  down(key: string): void {
    this.now.set(key, this.now.get(key)! - 1);
  }
  /** Highest peak over every key. */
  max(): number {
    return Math.max(0, ...this.peak.values());
  }
}

/** Everything the mocks saw for one job: calls, and peaks of downloads in flight. */
export interface MockJobLog {
  published: number;
  loadedPages: number[];
  failedTasksCalls: { page: number; round: number }[];
  /** Every download started: URL, the page workflow that ran it, attempts made before it (after a batch: 1). */
  downloads: { url: string; workflowId: string; attemptOffset: number }[];
  /**
   * Every downloadBatch started: its page workflow, its URLs, its lanes, its flags, when it was
   * scheduled (server time) and its activity id (a workflow numbers its activities in the order it scheduled them).
   */
  batches: { workflowId: string; urls: string[]; concurrency: number; polite: boolean; scheduledAt: number; activityId: string }[];
  /** Downloads in flight: key `job` for the whole job, the page workflow id, `host:<host>` (a batch counts its lanes per host). */
  inFlight: Gauge;
  /** Most page workflows with a download in flight at the same time. */
  peakPagesDownloading: number;
  canceled: number;
  /** Every deliverWebhook attempt: its input and its attempt number. */
  webhooks: { input: DeliverWebhookInput; attempt: number }[];
}

function pageOf(pageKey: string): number {
  const m = /\/pages\/(\d+)\.json$/.exec(pageKey);
  if (!m) throw new Error(`mock loadPage: unexpected page key ${pageKey}`);
  return Number(m[1]);
}

/**
 * Mocked FetchBox activities for workflow unit tests: no storage, no network. Each job (by jobId)
 * follows the plan registered with `plan()`, and everything the workflows asked for is recorded
 * in its log so tests can check windows, per-host limits, retry rounds and cancellation.
 */
export function mockActivities() {
  const plans = new Map<string, MockJobPlan>();
  const logs = new Map<string, MockJobLog>();
  const failed = new Map<string, Set<string>>(); // `${jobId}/${page}` -> URLs failed in the latest round
  const retriedAfter = new Set<string>(); // URLs that got their Retry-After in a batch already
  const planOf = (jobId: string): { plan: MockJobPlan; log: MockJobLog } => {
    const plan = plans.get(jobId);
    const log = logs.get(jobId);
    if (!plan || !log) throw ApplicationFailure.nonRetryable(`mock: no plan for job ${jobId}`);
    return { plan, log };
  };

  const activities = {
    async publishManifest(input: { jobId: string }): Promise<void> {
      planOf(input.jobId).log.published++;
    },
    async loadPage(input: { jobId: string; pageKey: string }) {
      const { plan, log } = planOf(input.jobId);
      const page = pageOf(input.pageKey);
      log.loadedPages.push(page);
      if (plan.failLoadPages?.has(page)) throw ApplicationFailure.nonRetryable(`mock: page ${page} cannot be loaded`, 'CorruptPage');
      const tasks = plan.pages[page] ?? [];
      return { tasks, pageResources: tasks.length };
    },
    async failedTasks(input: { jobId: string; page: number; round: number }): Promise<DownloadTask[]> {
      const { plan, log } = planOf(input.jobId);
      log.failedTasksCalls.push({ page: input.page, round: input.round });
      const urls = failed.get(`${input.jobId}/${input.page}`) ?? new Set<string>();
      return (plan.pages[input.page] ?? []).filter((t) => urls.has(t.url));
    },
    async downloadResource(input: DownloadInput): Promise<DownloadResult> {
      const { plan, log } = planOf(input.jobId);
      const ctx = Context.current();
      const workflowId = ctx.info.workflowExecution?.workflowId ?? '';
      const url = input.task.url;
      const page = Number(/\/p(\d+)/.exec(workflowId)?.[1]);
      const keys = ['job', workflowId, `host:${new URL(url).host}`];
      const firstTry = !log.downloads.some((d) => d.url === url);
      log.downloads.push({ url, workflowId, attemptOffset: input.attemptOffset ?? 0 });
      for (const k of keys) log.inFlight.up(k);
      const pagesNow = [...log.inFlight.now].filter(([k, n]) => k.includes('/p') && n > 0).length;
      log.peakPagesDownloading = Math.max(log.peakPagesDownloading, pagesNow);
      try {
        if (plan.hang) {
          for (;;) {
            ctx.heartbeat();
            await ctx.sleep(20);
          }
        }
        await ctx.sleep(plan.delayMs);
        const failedHere = failed.get(`${input.jobId}/${page}`) ?? new Set<string>();
        failed.set(`${input.jobId}/${page}`, failedHere);
        if (plan.failOnce?.has(url) && firstTry) {
          failedHere.add(url);
          throw ApplicationFailure.create({
            message: 'HTTP 404',
            type: 'http_status',
            nonRetryable: true,
            details: [{ kind: 'http_status', httpStatus: 404, attempt: 1 }],
          });
        }
        failedHere.delete(url);
        return { tier: 'direct', bytes: 10, sha256: 'x'.repeat(64), attempts: 1, finalUrl: url };
      } catch (err) {
        if (err instanceof CancelledFailure) log.canceled++;
        throw err;
      } finally {
        for (const k of keys) log.inFlight.down(k);
      }
    },
    async downloadBatch(input: DownloadBatchInput): Promise<BatchOutcome[]> {
      const { plan, log } = planOf(input.jobId);
      const ctx = Context.current();
      const workflowId = ctx.info.workflowExecution?.workflowId ?? '';
      log.batches.push({
        workflowId,
        urls: input.tasks.map((t) => t.url),
        concurrency: input.concurrency,
        polite: input.pauseOnRetryAfter === true && input.overlapCommits === true,
        scheduledAt: ctx.info.currentAttemptScheduledTimestampMs,
        activityId: ctx.info.activityId,
      });
      // The batch holds its lanes (at most as many as it has tasks of a host) on each of its hosts.
      const perHost = new Map<string, number>();
      for (const t of input.tasks) perHost.set(new URL(t.url).host, (perHost.get(new URL(t.url).host) ?? 0) + 1);
      const held = [...perHost].flatMap(([host, n]) => Array<string>(Math.min(n, input.concurrency)).fill(`host:${host}`));
      const keys = [`batches:${workflowId}`, ...held, ...Array<string>(Math.min(input.concurrency, input.tasks.length)).fill('job')];
      for (const k of keys) log.inFlight.up(k);
      try {
        await ctx.sleep(plan.delayMs);
        const paused = new Set<string>();
        return input.tasks.flatMap((task, index): BatchOutcome[] => {
          const host = new URL(task.url).host;
          if (paused.has(host)) return []; // not started: its host asked to wait
          const retryAfterMs = plan.retryAfterInBatch?.get(task.url);
          if (retryAfterMs !== undefined && !retriedAfter.has(task.url)) {
            retriedAfter.add(task.url);
            if (input.pauseOnRetryAfter) paused.add(host);
            return [{ index, retry: { kind: 'http_status', message: 'HTTP 429', httpStatus: 429, retryAfterMs } }];
          }
          if (plan.retryInBatch?.has(task.url))
            return [{ index, retry: { kind: 'http_status', message: 'HTTP 503', httpStatus: 503, retryAfterMs: 50 } }];
          if (plan.failInBatch?.has(task.url)) return [{ index, failed: { kind: 'http_status', message: 'HTTP 404', httpStatus: 404 } }];
          return [{ index, ok: { tier: 'direct', bytes: 10, sha256: 'x'.repeat(64), attempts: 1 } }];
        });
      } finally {
        for (const k of keys) log.inFlight.down(k);
      }
    },
    /** The inline run: publish, the plan's page 0 as tasks, their first attempts as in downloadBatch (failInBatch URLs fail for good once). */
    async downloadInline(input: DownloadInlineInput): Promise<InlineRunResult> {
      const { plan, log } = planOf(input.jobId);
      const ctx = Context.current();
      const workflowId = ctx.info.workflowExecution?.workflowId ?? '';
      log.published++;
      const tasks = plan.pages[0] ?? [];
      log.batches.push({
        workflowId,
        urls: tasks.map((t) => t.url),
        concurrency: input.concurrency,
        polite: false,
        scheduledAt: ctx.info.currentAttemptScheduledTimestampMs,
        activityId: ctx.info.activityId,
      });
      log.inFlight.up(`batches:${workflowId}`);
      try {
        if (plan.hang) {
          for (;;) {
            ctx.heartbeat();
            await ctx.sleep(20);
          }
        }
        await ctx.sleep(plan.delayMs);
        const failedHere = new Set<string>();
        failed.set(`${input.jobId}/0`, failedHere);
        const outcomes = tasks.map((task, index): BatchOutcome => {
          if (plan.retryInBatch?.has(task.url))
            return { index, retry: { kind: 'http_status', message: 'HTTP 503', httpStatus: 503, retryAfterMs: 50 } };
          if (plan.failInBatch?.has(task.url)) {
            failedHere.add(task.url);
            return { index, failed: { kind: 'http_status', message: 'HTTP 404', httpStatus: 404 } };
          }
          return { index, ok: { tier: 'direct', bytes: 10, sha256: 'x'.repeat(64), attempts: 1 } };
        });
        return { tasks, pageResources: tasks.length, outcomes };
      } catch (err) {
        if (err instanceof CancelledFailure) log.canceled++;
        throw err;
      } finally {
        log.inFlight.down(`batches:${workflowId}`);
      }
    },
    async deliverWebhook(input: DeliverWebhookInput): Promise<DeliverWebhookResult> {
      const { plan, log } = planOf(input.body.jobId);
      const { attempt } = Context.current().info;
      log.webhooks.push({ input, attempt });
      await plan.webhook?.gate;
      if (plan.webhook?.gone)
        throw ApplicationFailure.create({
          type: 'webhook_gone',
          message: 'HTTP 410 Gone',
          nonRetryable: true,
          details: [{ attempt, httpStatus: 410 }],
        });
      if (attempt <= (plan.webhook?.failures ?? 0)) {
        throw ApplicationFailure.create({ type: 'webhook_http_status', message: 'HTTP 500', details: [{ attempt, httpStatus: 500 }] });
      }
      return { attempts: attempt, httpStatus: 204 };
    },
  };

  return {
    activities,
    /** Registers what job `jobId` does and returns the log its activities fill. */
    plan(jobId: string, plan: MockJobPlan): MockJobLog {
      const log: MockJobLog = {
        published: 0,
        loadedPages: [],
        failedTasksCalls: [],
        downloads: [],
        batches: [],
        inFlight: new Gauge(),
        peakPagesDownloading: 0,
        canceled: 0,
        webhooks: [],
      };
      plans.set(jobId, plan);
      logs.set(jobId, log);
      return log;
    },
  };
}
