import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, WorkflowFailedError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PAGES_PER_RUN } from '../../src/workflows/job-scheduler.js';
import { jobWorkflow } from '../../src/workflows/index.js';
import { retrySignal, retryUpdate } from '../../src/model/messages.js';
import { JobStatus, RETRY_REFUSED, type NotifyEvent } from '../../src/model/constants.js';
import type { JobNotify } from '../../src/model/notify-types.js';
import { type DownloadTask, type JobPolicy, type JobWorkflowInput } from '../../src/model/job-types.js';
import { SearchAttributes } from '../../src/model/search-attributes.js';
import { mockActivities } from '../support/mock-activities.js';
import { startWorkflowEnv, type WorkflowEnv } from '../support/workflow-env.js';

// Workflow unit tests: the job and page schedulers on a local Temporal dev server of their own
// (TestWorkflowEnvironment.createLocal on the project's temporal CLI), with mocked activities that
// record what the workflows asked for. No storage, no network; timers run in real time, kept short.

const mocks = mockActivities();
const taskQueue = `workflows-unit-${randomUUID()}`;
let local: WorkflowEnv;
let client: Client;

beforeAll(async () => {
  local = await startWorkflowEnv(taskQueue, {
    activities: mocks.activities,
    // Cancellation reaches an activity through its heartbeats: send them promptly.
    maxHeartbeatThrottleInterval: '50 milliseconds',
  });
  client = local.env.client;
}, 120_000);

afterAll(async () => {
  await local?.close();
});

/** `count` tasks on page `page`, spread round-robin over `hosts`. */
function tasksFor(page: number, count: number, hosts = ['a.test']): DownloadTask[] {
  return Array.from({ length: count }, (_, i) => {
    const url = `http://${hosts[i % hosts.length]}/p${page}/r${i}`;
    return { id: `p${page}-r${i}`, url, key: `k/p${page}/r${i}` };
  });
}

function jobInput(jobId: string, pages: DownloadTask[][], policy: Partial<JobPolicy>): JobWorkflowInput {
  return {
    jobId,
    handler: 'default',
    submittedAt: new Date().toISOString(),
    manifest: {
      hash: 'h',
      prefix: `jobs/${jobId}`,
      manifestKey: `jobs/${jobId}/manifest.json`,
      pageCount: pages.length,
      total: pages.reduce((n, p) => n + p.length, 0),
    },
    policy: {
      concurrency: 4,
      pageParallelism: 2,
      retry: { maximumAttempts: 2, initialIntervalMs: 100, backoffCoefficient: 1, maximumIntervalMs: 100 },
      attemptTimeoutMs: 30_000,
      heartbeatTimeoutMs: 10_000,
      maxBytes: 1_000_000,
      proxyTiers: ['direct'],
      attemptsPerTier: 1,
      ...policy,
    },
  };
}

/** A one-page job whose manifest travels inline and that runs its first round inline (as the API sets it for small jobs). */
function inlineInput(jobId: string, tasks: DownloadTask[], policy: Partial<JobPolicy>): JobWorkflowInput {
  const input = jobInput(jobId, [tasks], { batchSize: 100, ...policy });
  return { ...input, manifest: { ...input.manifest, inline: { document: { jobId }, resources: tasks } }, inlineRun: true };
}

/** A webhook for every test job: short request deadline, a minute's window. */
function notifyOf(events: NotifyEvent[]): JobNotify {
  return {
    url: 'https://hooks.test/h',
    events,
    timeoutMs: 1_000,
    retryForMs: 60_000,
    links: { self: '/jobs/x', temporalUi: 'http://ui.test' },
  };
}

function start(input: JobWorkflowInput) {
  return client.workflow.start(jobWorkflow, { taskQueue, workflowId: `job-${input.jobId}`, args: [input] });
}

describe('job and page schedulers with mocked activities (local dev server)', { timeout: 30_000 }, () => {
  it('keeps at most `window` downloads in flight in a page and `concurrency` in the job', async () => {
    const jobId = `win-${randomUUID()}`;
    const pages = [0, 1, 2].map((p) => tasksFor(p, 9));
    const log = mocks.plan(jobId, { pages, delayMs: 200 });
    // concurrency 6 over 2 pages at a time: a window of 3 per page.
    const result = await (await start(jobInput(jobId, pages, { concurrency: 6, pageParallelism: 2 }))).result();

    expect(result.status).toBe(JobStatus.completed);
    expect(result.resources).toEqual({ total: 27, succeeded: 27, failed: 0, pending: 0 });
    expect(log.downloads).toHaveLength(27);
    const pagePeaks = [...log.inFlight.peak].filter(([k]) => k.includes('/p')).map(([, n]) => n);
    expect(pagePeaks).toEqual([3, 3, 3]); // each page fills its window and never exceeds it
    expect(log.inFlight.peak.get('job')).toBeLessThanOrEqual(6);
    expect(log.published).toBe(1);
    expect(log.loadedPages.sort()).toEqual([0, 1, 2]);
  });

  it('holds a per-host limit job-wide: a polite job runs one page at a time', async () => {
    const jobId = `host-${randomUUID()}`;
    const pages = [0, 1, 2].map((p) => tasksFor(p, 8, ['a.test', 'b.test']));
    const log = mocks.plan(jobId, { pages, delayMs: 200 });
    const input = jobInput(jobId, pages, { concurrency: 8, pageParallelism: 2, perHostConcurrency: 2 });
    const result = await (await start(input)).result();

    expect(result.resources).toEqual({ total: 24, succeeded: 24, failed: 0, pending: 0 });
    expect(log.inFlight.peak.get('host:a.test')).toBe(2);
    expect(log.inFlight.peak.get('host:b.test')).toBe(2);
    expect(log.peakPagesDownloading).toBe(1);
  });

  it('without a retry request, ends completed_with_failures and runs no second round', async () => {
    const jobId = `noretry-${randomUUID()}`;
    const pages = [0, 1].map((p) => tasksFor(p, 3));
    const log = mocks.plan(jobId, { pages, delayMs: 20, failOnce: new Set([pages[1]![2]!.url]) });
    const result = await (await start(jobInput(jobId, pages, {}))).result();

    expect(result.status).toBe(JobStatus.completedWithFailures);
    expect(result.resources).toEqual({ total: 6, succeeded: 5, failed: 1, pending: 0 });
    expect(result.resume.carry?.failedPages).toEqual([1]);
    expect(log.failedTasksCalls).toEqual([]);
  });

  it('a retryFailed signal runs another round over only the failed pages and their failed tasks', async () => {
    const jobId = `retry-${randomUUID()}`;
    const pages = [0, 1, 2].map((p) => tasksFor(p, 4));
    const failing = [pages[0]![1]!.url, pages[2]![0]!.url, pages[2]![3]!.url];
    const log = mocks.plan(jobId, { pages, delayMs: 20, failOnce: new Set(failing) });
    const input = jobInput(jobId, pages, {});
    const handle = await client.workflow.signalWithStart(jobWorkflow, {
      taskQueue,
      workflowId: `job-${jobId}`,
      args: [input],
      signal: retrySignal,
      signalArgs: [],
    });
    const result = await handle.result();

    expect(result.status).toBe(JobStatus.completed);
    expect(result.resources).toEqual({ total: 12, succeeded: 12, failed: 0, pending: 0 });
    expect(log.failedTasksCalls.sort((a, b) => a.page - b.page)).toEqual([
      { page: 0, round: 1 },
      { page: 2, round: 1 },
    ]);
    const secondRound = log.downloads.filter((d) => d.workflowId.endsWith('/r1')).map((d) => d.url);
    expect(secondRound.sort()).toEqual([...failing].sort());
    expect(log.downloads).toHaveLength(15);
    expect(result.resume.carry?.round).toBe(1);
  });

  it('a retry Update on a running job answers retrying and runs a round over the failed tasks after the pass', async () => {
    const jobId = `update-${randomUUID()}`;
    const pages = [0, 1].map((p) => tasksFor(p, 4));
    const failing = pages[1]![2]!.url;
    const log = mocks.plan(jobId, { pages, delayMs: 200, failOnce: new Set([failing]) });
    const handle = await start(jobInput(jobId, pages, {}));
    const answer = await handle.executeUpdate(retryUpdate);
    expect(answer).toEqual({ status: JobStatus.running, retrying: true });
    const result = await handle.result();

    expect(result.status).toBe(JobStatus.completed);
    expect(result.resources).toEqual({ total: 8, succeeded: 8, failed: 0, pending: 0 });
    expect(log.failedTasksCalls).toEqual([{ page: 1, round: 1 }]);
    expect(log.downloads.filter((d) => d.workflowId.endsWith('/r1')).map((d) => d.url)).toEqual([failing]);
    expect(result.resume.carry).toMatchObject({ round: 1, retryRequests: 0, failedPages: [] });
  });

  it('a retry Update-With-Start on a closed job starts a run from its resume that runs only the retry round', async () => {
    const jobId = `uws-${randomUUID()}`;
    const pages = [0, 1, 2].map((p) => tasksFor(p, 3));
    const failing = pages[2]![1]!.url;
    const log = mocks.plan(jobId, { pages, delayMs: 20, failOnce: new Set([failing]) });
    const first = await (await start(jobInput(jobId, pages, {}))).result();
    expect(first.status).toBe(JobStatus.completedWithFailures);

    const startWorkflowOperation = new WithStartWorkflowOperation(jobWorkflow, {
      taskQueue,
      workflowId: `job-${jobId}`,
      args: [first.resume],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
    const answer = await client.workflow.executeUpdateWithStart(retryUpdate, { startWorkflowOperation });
    expect(answer).toEqual({ status: JobStatus.running, retrying: true });
    const result = await (await startWorkflowOperation.workflowHandle()).result();

    expect(result.status).toBe(JobStatus.completed);
    expect(result.resources).toEqual({ total: 9, succeeded: 9, failed: 0, pending: 0 });
    expect([...log.loadedPages].sort((a, b) => a - b)).toEqual([0, 1, 2]); // pages load in parallel; the retry run loaded none again
    expect(log.published).toBe(1);
    expect(log.failedTasksCalls).toEqual([{ page: 2, round: 1 }]);
    expect(log.downloads.filter((d) => d.workflowId.endsWith('/r1')).map((d) => d.url)).toEqual([failing]);
  });

  it('the retry Update validator refuses a job that is failing, and records nothing', async () => {
    const jobId = `refuse-${randomUUID()}`;
    const pages = [0, 1].map((p) => tasksFor(p, 2));
    // Page 0 cannot be loaded (its child fails: the job will fail); page 1 downloads until canceled.
    const log = mocks.plan(jobId, { pages, delayMs: 0, hang: true, failLoadPages: new Set([0]) });
    const handle = await start(jobInput(jobId, pages, { concurrency: 4, pageParallelism: 2 }));
    await vi.waitFor(
      async () => {
        // The failure is in the history and a workflow task has completed since: the job saw it.
        const events = (await handle.fetchHistory()).events ?? [];
        const failed = events.findIndex((e) => e.childWorkflowExecutionFailedEventAttributes);
        expect(failed).toBeGreaterThanOrEqual(0);
        expect(events.slice(failed).some((e) => e.workflowTaskCompletedEventAttributes)).toBe(true);
      },
      { timeout: 10_000, interval: 50 },
    );

    const err = await handle.executeUpdate(retryUpdate).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe(RETRY_REFUSED);
    expect((cause as ApplicationFailure).message).toContain('is failing');
    await handle.cancel();
    expect(await handle.result().catch((e: unknown) => e)).toBeInstanceOf(WorkflowFailedError);
    expect(log.failedTasksCalls).toEqual([]);
  });

  it('batches first attempts (downloadBatch) within the window, then retries retryable failures alone', async () => {
    const jobId = `batch-${randomUUID()}`;
    const pages = [tasksFor(0, 20)];
    const retried = pages[0]![3]!.url;
    const permanent = pages[0]![17]!.url;
    // Batches take 500 ms (real time): the four must overlap to count as at once, however far apart a
    // loaded machine hands them to the worker's pollers.
    const log = mocks.plan(jobId, { pages, delayMs: 500, retryInBatch: new Set([retried]), failInBatch: new Set([permanent]) });
    // window 8: lanes = ceil(8 / 4) = 2, so 4 batches at once; 20 tasks over 4 slots: batches of 5.
    const result = await (await start(jobInput(jobId, pages, { concurrency: 8, pageParallelism: 1, batchSize: 10 }))).result();

    expect(result.status).toBe(JobStatus.completedWithFailures);
    expect(result.resources).toEqual({ total: 20, succeeded: 19, failed: 1, pending: 0 });
    expect(log.batches.map((b) => [b.urls.length, b.concurrency])).toEqual([
      [5, 2],
      [5, 2],
      [5, 2],
      [5, 2],
    ]);
    expect(log.batches.flatMap((b) => b.urls).sort()).toEqual(pages[0]!.map((t) => t.url).sort()); // every task once
    expect(log.inFlight.peak.get(`batches:job-${jobId}/p000000`)).toBe(4);
    // Only the retryable failure runs again, alone, after the attempt its batch made.
    expect(log.downloads.map((d) => [d.url, d.attemptOffset])).toEqual([[retried, 1]]);
  });

  it('polite batches: one host per downloadBatch, at most perHost in flight per host counting lanes and lone retries, hosts taking turns', async () => {
    const jobId = `polite-batch-${randomUUID()}`;
    // Three hosts, 12 tasks each; perHost 2 and a window of 4, so the hosts must share the window.
    const pages = [tasksFor(0, 36, ['a.test', 'b.test', 'c.test'])];
    const retried = pages[0]!
      .filter((t) => t.url.startsWith('http://a.test/'))
      .slice(1, 2)
      .map((t) => t.url);
    const log = mocks.plan(jobId, { pages, delayMs: 300, retryInBatch: new Set(retried) });
    const input = jobInput(jobId, pages, { concurrency: 4, pageParallelism: 2, perHostConcurrency: 2, batchSize: 5 });
    const result = await (await start(input)).result();

    expect(result.status).toBe(JobStatus.completed);
    expect(result.resources).toEqual({ total: 36, succeeded: 36, failed: 0, pending: 0 });
    const hostsOf = (urls: string[]) => [...new Set(urls.map((u) => new URL(u).host))];
    for (const b of log.batches) {
      expect(hostsOf(b.urls)).toHaveLength(1); // host-grouped
      expect(b.polite).toBe(true);
      expect(b.concurrency).toBeLessThanOrEqual(2);
      expect(b.urls.length).toBeLessThanOrEqual(5);
    }
    expect(log.batches.flatMap((b) => b.urls).sort()).toEqual(pages[0]!.map((t) => t.url).sort()); // every task once
    // Hosts take turns: c's first batch starts before a or b gets a second one.
    const scheduled = [...log.batches].sort((x, y) => Number(x.activityId) - Number(y.activityId));
    expect(scheduled.slice(0, 3).map((b) => hostsOf(b.urls)[0])).toEqual(['a.test', 'b.test', 'c.test']);
    for (const host of ['a.test', 'b.test', 'c.test']) expect(log.inFlight.peak.get(`host:${host}`)).toBeLessThanOrEqual(2);
    expect(log.inFlight.peak.get('job')).toBeLessThanOrEqual(4);
    // The retryable failure of a.test ran alone, after the attempt its batch made.
    expect(log.downloads.map((d) => [d.url, d.attemptOffset]).sort()).toEqual(retried.map((u) => [u, 1]).sort());
    // A batch of a.test that started while the lone retry held one of its slots got one lane, not two.
    const lone = log.batches.filter((b) => hostsOf(b.urls)[0] === 'a.test' && b.concurrency === 1);
    expect(lone.length).toBeGreaterThan(0);
  });

  it('polite batches: a Retry-After in a batch pauses that host; the tasks the batch left run after the pause', async () => {
    const jobId = `polite-pause-${randomUUID()}`;
    const pages = [tasksFor(0, 10)];
    const limited = pages[0]![2]!.url;
    const log = mocks.plan(jobId, { pages, delayMs: 20, retryAfterInBatch: new Map([[limited, 1_000]]) });
    const input = jobInput(jobId, pages, { concurrency: 4, pageParallelism: 1, perHostConcurrency: 1, batchSize: 10 });
    const result = await (await start(input)).result();

    expect(result.status).toBe(JobStatus.completed);
    expect(result.resources).toEqual({ total: 10, succeeded: 10, failed: 0, pending: 0 });
    const [first, second, ...rest] = log.batches;
    expect(rest).toEqual([]);
    expect(first!.urls).toEqual(pages[0]!.map((t) => t.url));
    // The batch left tasks 3-9 unattempted; they ran in one later batch, not before the 1 s pause.
    expect(second!.urls).toEqual(pages[0]!.slice(3).map((t) => t.url));
    expect(second!.scheduledAt - first!.scheduledAt).toBeGreaterThanOrEqual(1_000);
    expect(log.downloads.map((d) => [d.url, d.attemptOffset])).toEqual([[limited, 1]]);
    expect(log.inFlight.peak.get('host:a.test')).toBe(1);
  });

  it(`continues as new after ${PAGES_PER_RUN} pages and the counts still add up`, async () => {
    const jobId = `can-${randomUUID()}`;
    const pageCount = PAGES_PER_RUN + 3;
    const pages = Array.from({ length: pageCount }, (_, p) => tasksFor(p, 2));
    const failing = pages[pageCount - 1]![0]!.url; // a failure in the second run
    const log = mocks.plan(jobId, { pages, delayMs: 10, failOnce: new Set([failing]) });
    const handle = await start(jobInput(jobId, pages, { pageParallelism: 1 }));
    const result = await handle.result();

    expect(result.status).toBe(JobStatus.completedWithFailures);
    expect(result.resources).toEqual({ total: 2 * pageCount, succeeded: 2 * pageCount - 1, failed: 1, pending: 0 });
    expect(log.published).toBe(1); // carried across runs, not published again
    expect(log.loadedPages).toEqual(Array.from({ length: pageCount }, (_, p) => p));
    const latest = await client.workflow.getHandle(handle.workflowId).describe();
    expect(latest.runId).not.toBe(handle.firstExecutionRunId);
    const first = await client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).fetchHistory();
    const events = first.events ?? [];
    expect(events.filter((e) => e.childWorkflowExecutionCompletedEventAttributes).length).toBe(PAGES_PER_RUN);
    expect(events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
  });

  it('runs a small inline job in the job workflow: one downloadInline, lone retries, no page child; its round is the ledger', async () => {
    const jobId = `inline-${randomUUID()}`;
    const pages = [tasksFor(0, 6)];
    const retried = pages[0]![1]!.url;
    const permanent = pages[0]![4]!.url;
    const log = mocks.plan(jobId, { pages, delayMs: 10, retryInBatch: new Set([retried]), failInBatch: new Set([permanent]) });
    const handle = await start(inlineInput(jobId, pages[0]!, { concurrency: 4 }));
    const result = await handle.result();

    expect(result.status).toBe(JobStatus.completedWithFailures);
    expect(result.resources).toEqual({ total: 6, succeeded: 5, failed: 1, pending: 0 });
    expect(log.published).toBe(1);
    expect(log.loadedPages).toEqual([]);
    expect(log.batches).toEqual([
      expect.objectContaining({ workflowId: `job-${jobId}`, urls: pages[0]!.map((t) => t.url), concurrency: 4, polite: false }),
    ]);
    expect(log.downloads.map((d) => [d.url, d.workflowId, d.attemptOffset])).toEqual([[retried, `job-${jobId}`, 1]]);
    const inlinePage = result.resume.carry?.inlinePage;
    expect(inlinePage).toMatchObject({ page: 0, round: 0, tasks: 6, succeeded: 5, failed: 1 });
    expect(inlinePage?.states.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded', 'failed', 'succeeded']);
    const history = await handle.fetchHistory();
    expect(history.events?.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toBe(false);

    // A retry of the closed job runs the retry round as a page child, over the inline round's failure.
    await client.workflow.executeUpdateWithStart(retryUpdate, {
      startWorkflowOperation: new WithStartWorkflowOperation(jobWorkflow, {
        workflowId: `job-${jobId}`,
        taskQueue,
        args: [result.resume],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      }),
    });
    const again = await client.workflow.getHandle(`job-${jobId}`).result();
    // The round's child asked the ledger for the inline round's failure and ran it (in a batch, where it fails again).
    expect(log.failedTasksCalls).toEqual([{ page: 0, round: 1 }]);
    expect(log.batches.at(-1)).toMatchObject({ workflowId: `job-${jobId}/p000000/r1`, urls: [permanent] });
    expect(again.resources).toEqual({ total: 6, succeeded: 5, failed: 1, pending: 0 });
    expect(again.resume.carry?.inlinePage).toEqual(inlinePage); // the first round's ledger stays in the carry
  });

  it('cancel of an inline job ends it canceled and cancels its activity', async () => {
    const jobId = `inline-cancel-${randomUUID()}`;
    const pages = [tasksFor(0, 3)];
    const log = mocks.plan(jobId, { pages, delayMs: 0, hang: true });
    const handle = await start(inlineInput(jobId, pages[0]!, {}));
    await vi.waitFor(() => expect(log.batches).toHaveLength(1), { timeout: 10_000, interval: 20 });
    await handle.cancel();
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    await vi.waitFor(() => expect(log.canceled).toBe(1), { timeout: 10_000, interval: 20 });
  });

  it('cancel ends the job canceled and cancels the downloads in flight', async () => {
    const jobId = `cancel-${randomUUID()}`;
    const pages = [0, 1].map((p) => tasksFor(p, 5));
    const log = mocks.plan(jobId, { pages, delayMs: 0, hang: true });
    const handle = await start(jobInput(jobId, pages, { concurrency: 4, pageParallelism: 2 }));
    await vi.waitFor(() => expect(log.downloads).toHaveLength(4), { timeout: 10_000, interval: 20 });
    await handle.cancel();

    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    const description = await handle.describe();
    expect(description.status.name).toBe('CANCELLED');
    await vi.waitFor(() => expect(log.canceled).toBe(4), { timeout: 10_000, interval: 20 });
    expect(log.downloads).toHaveLength(4); // nothing started after the cancel
    expect(log.inFlight.now.get('job')).toBe(0);
  });

  it("delivers a job's completion webhook before it closes: retried with one webhook-id, the outcome in the memo", async () => {
    const jobId = `notify-${randomUUID()}`;
    const pages = [tasksFor(0, 3)];
    const log = mocks.plan(jobId, { pages, delayMs: 0, webhook: { failures: 2 } });
    const handle = await start({ ...jobInput(jobId, pages, {}), notify: notifyOf(['completed', 'completed_with_failures', 'canceled']) });
    const result = await handle.result();
    expect(result.status).toBe(JobStatus.completed);
    expect(log.webhooks.map((w) => w.attempt)).toEqual([1, 2, 3]);
    const { runId } = await handle.describe();
    expect(new Set(log.webhooks.map((w) => w.input.webhookId))).toEqual(new Set([`job-${jobId}/${runId}/completed`]));
    expect(log.webhooks[0]!.input).toMatchObject({
      url: 'https://hooks.test/h',
      timeoutMs: 1_000,
      body: {
        type: 'completed',
        jobId,
        status: 'completed',
        resources: { total: 3, succeeded: 3, failed: 0, pending: 0 },
        links: { self: '/jobs/x' },
      },
    });
    const description = await handle.describe();
    expect(description.memo?.notify).toMatchObject({
      status: 'delivered',
      attempts: 3,
      runId,
      webhookId: `job-${jobId}/${runId}/completed`,
    });
    expect(description.typedSearchAttributes.get(SearchAttributes.status)).toBe(JobStatus.completed);
  });

  it('sends no webhook for a status outside events, and gives up at once on 410', async () => {
    const skipped = `notify-skip-${randomUUID()}`;
    const log = mocks.plan(skipped, { pages: [tasksFor(0, 2)], delayMs: 0 });
    const handle = await start({ ...jobInput(skipped, [tasksFor(0, 2)], {}), notify: notifyOf(['canceled']) });
    await handle.result();
    expect(log.webhooks).toEqual([]);
    expect((await handle.describe()).memo?.notify).toMatchObject({ status: 'skipped' });

    const gone = `notify-gone-${randomUUID()}`;
    const goneLog = mocks.plan(gone, { pages: [tasksFor(0, 2)], delayMs: 0, webhook: { gone: true } });
    const goneHandle = await start({ ...jobInput(gone, [tasksFor(0, 2)], {}), notify: notifyOf(['completed']) });
    expect((await goneHandle.result()).status).toBe(JobStatus.completed);
    expect(goneLog.webhooks).toHaveLength(1);
    expect((await goneHandle.describe()).memo?.notify).toMatchObject({ status: 'failed', attempts: 1, lastError: 'HTTP 410 Gone' });
  });

  it('a retry Update while the webhook is delivered is refused; the job reads running until delivery ends', async () => {
    const jobId = `notify-closing-${randomUUID()}`;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const pages = [tasksFor(0, 2)];
    const log = mocks.plan(jobId, { pages, delayMs: 0, webhook: { gate } });
    const handle = await start({ ...jobInput(jobId, pages, {}), notify: notifyOf(['completed']) });
    await vi.waitFor(() => expect(log.webhooks).toHaveLength(1), { timeout: 10_000, interval: 20 });
    const description = await handle.describe();
    expect(description.status.name).toBe('RUNNING');
    expect(description.memo?.notify).toMatchObject({ status: 'pending' });
    expect(description.typedSearchAttributes.get(SearchAttributes.status)).toBe(JobStatus.running);
    const refused = await handle.executeUpdate(retryUpdate).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(((refused as WorkflowUpdateFailedError).cause as ApplicationFailure).type).toBe(RETRY_REFUSED);
    release();
    expect((await handle.result()).status).toBe(JobStatus.completed);
  });

  it('a canceled job delivers its canceled webhook (not cancellable) before it ends canceled', async () => {
    const jobId = `notify-cancel-${randomUUID()}`;
    const pages = [tasksFor(0, 3)];
    const log = mocks.plan(jobId, { pages, delayMs: 0, hang: true, webhook: { failures: 1 } });
    const handle = await start({ ...jobInput(jobId, pages, {}), notify: notifyOf(['completed', 'canceled']) });
    await vi.waitFor(() => expect(log.downloads.length).toBeGreaterThan(0), { timeout: 10_000, interval: 20 });
    await handle.cancel();
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    const description = await handle.describe();
    expect(description.status.name).toBe('CANCELLED');
    expect(log.webhooks.map((w) => [w.attempt, w.input.body.type])).toEqual([
      [1, 'canceled'],
      [2, 'canceled'],
    ]);
    expect(description.memo?.notify).toMatchObject({ status: 'delivered', attempts: 2 });
  });
});
