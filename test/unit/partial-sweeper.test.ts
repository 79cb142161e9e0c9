import { ApplicationFailure } from '@temporalio/activity';
import { mkdtemp, readdir, rm, stat, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { dropPartialIfFinal } from '../../src/activities/resumable-download.js';
import { activityRun } from '../../src/activities/resume-check.js';
import { WorkerMetrics } from '../../src/observability/worker-metrics.js';
import { FileStorage } from '../../src/storage/file-storage.js';
import { startPartialSweeper } from '../../src/storage/partial-sweeper.js';
import { partialId } from '../../src/storage/partials.js';
import { StoreRegistry } from '../../src/storage/store-registry.js';
import type { DownloadTask } from '../../src/model/job-types.js';

const CHUNK = Buffer.alloc(10_000, 7);

/** The largest data file in the partial area (0 when there is none). */
async function largestPartial(): Promise<number> {
  const names = (await readdir(partialDir()).catch(() => [] as string[])).filter((n) => !n.includes('.json'));
  const sizes = await Promise.all(
    names.map((n) =>
      stat(path.join(partialDir(), n)).then(
        (s) => s.size,
        () => 0,
      ),
    ),
  );
  return Math.max(0, ...sizes);
}

/**
 * A body that yields `bytes` and then fails like a reset connection once they are on disk (a
 * condition, not a delay: a loaded machine writes late): leaves a partial of `bytes` behind.
 */
async function* breaksAfter(bytes: number) {
  for (let at = 0; at < bytes; at += CHUNK.length) {
    yield CHUNK;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await vi.waitFor(async () => expect(await largestPartial()).toBeGreaterThanOrEqual(bytes), { timeout: 10_000, interval: 5 });
  throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

let root: string;
let storage: FileStorage;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-sweep-'));
  storage = new FileStorage(root);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const partialDir = () => path.join(root, '.fetchbox-tmp', 'partial');

/** Leaves a partial of `bytes` for the task keyed `key`; returns its id. */
async function leavePartial(key: string, bytes: number): Promise<string> {
  const id = partialId(key, `http://o/${key}`, undefined);
  await storage.resumable
    .put({
      key,
      body: breaksAfter(bytes),
      expectedBytes: 1_000_000,
      partial: { id, total: 1_000_000, validator: '"v"', url: `http://o/${key}` },
    })
    .catch(() => undefined);
  expect(await storage.resumable.find(id)).toMatchObject({ offset: bytes });
  return id;
}

/** Makes every file of a partial look untouched for `hours`. */
async function age(id: string, hours: number): Promise<void> {
  const when = new Date(Date.now() - hours * 3600_000);
  for (const name of await readdir(partialDir())) if (name.startsWith(id)) await utimes(path.join(partialDir(), name), when, when);
}

describe('partial sweeper', () => {
  it('removes partials older than the max age, keeps the rest, and reports the bytes they hold', async () => {
    const old = await leavePartial('j/old', 50_000);
    const young = await leavePartial('j/young', 30_000);
    await age(old, 25);
    const metrics = new WorkerMetrics({ processMetrics: false });
    const sweeper = startPartialSweeper({
      stores: new StoreRegistry(storage),
      maxAgeMs: 24 * 3600_000,
      intervalMs: 3600_000,
      gauge: metrics.partialBytes,
    });
    await sweeper.sweep();
    await sweeper.stop();
    expect(await storage.resumable.find(old)).toBeUndefined();
    expect(await storage.resumable.find(young)).toMatchObject({ offset: 30_000 });
    expect((await readdir(partialDir())).filter((n) => n.startsWith(old))).toEqual([]);
    const gauge = await metrics.registry.getSingleMetricAsString('fetchbox_partial_bytes');
    expect(gauge).toContain('fetchbox_partial_bytes{store="default"} 30000');
  });

  it('looks at no more than maxEntries entries per sweep and continues where it stopped; the gauge is set when a pass ends', async () => {
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push(await leavePartial(`j/p${i}`, 10_000));
    for (const id of ids) await age(id, 48);
    const reported: number[] = [];
    const sweeper = startPartialSweeper({
      stores: new StoreRegistry(storage),
      maxAgeMs: 24 * 3600_000,
      intervalMs: 3600_000,
      maxEntries: 3,
      gauge: { set: (_labels, bytes) => reported.push(bytes) },
    });
    await sweeper.sweep(); // the sweep at start has run too: at most 3 entries each
    const left = (await readdir(partialDir())).length;
    expect(left).toBeLessThan(8); // 4 partials = 8 files (data + checkpoint)
    for (let i = 0; i < 5 && (await readdir(partialDir())).length > 0; i++) await sweeper.sweep();
    await sweeper.stop();
    expect(await readdir(partialDir())).toEqual([]);
    expect(reported.at(-1)).toBe(0);
  });
});

describe('partials of resources that failed for good', () => {
  const task: DownloadTask = { id: 'a', url: 'http://o/j/a', key: 'j/a' } as DownloadTask;
  const retryable = ApplicationFailure.create({ type: 'connection', message: 'reset', nonRetryable: false });
  const permanent = ApplicationFailure.create({ type: 'http_status', message: '404', nonRetryable: true });

  it('are removed after a permanent failure or the last attempt, and kept after any other failure', async () => {
    const id = await leavePartial('j/a', 20_000);
    await dropPartialIfFinal(storage, task, retryable, { retried: true });
    expect(await storage.resumable.find(id)).toBeDefined();
    await dropPartialIfFinal(storage, task, retryable, { retried: true, lastAttempt: true });
    expect(await storage.resumable.find(id)).toBeUndefined();
    await leavePartial('j/a', 20_000);
    await dropPartialIfFinal(storage, task, permanent, { retried: false });
    expect(await storage.resumable.find(id)).toBeUndefined();
  });

  it("an activity's last attempt is its retry policy's maximumAttempts; a batch never has one", () => {
    const info = (attempt: number, maximumAttempts: number | undefined, activityType = 'downloadResource') =>
      ({ attempt, activityType, retryPolicy: maximumAttempts === undefined ? undefined : { maximumAttempts } }) as never;
    expect(activityRun(info(4, 4)).lastAttempt).toBe(true);
    expect(activityRun(info(3, 4)).lastAttempt).toBeUndefined();
    expect(activityRun(info(1, 1)).lastAttempt).toBe(true);
    expect(activityRun(info(9, 0)).lastAttempt).toBeUndefined(); // 0: unlimited
    expect(activityRun(info(5, undefined)).lastAttempt).toBeUndefined();
    expect(activityRun(info(5, 5, 'downloadBatch')).lastAttempt).toBeUndefined();
  });
});
