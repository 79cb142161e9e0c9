import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFetcher } from '../src/fetch/fetcher.js';
import type { Storage } from '../src/storage/storage.js';
import { projectRoot } from '../src/temporal/temporal-cli.js';
import { startOrigin, type Origin } from '../test/support/origin.js';
import { freePort } from '../test/support/ports.js';
import { startStack, uniqueJobId, type Stack, type StorageKind } from '../test/support/stack.js';

// `npm run bench`: each scenario runs through FetchBox (POST to completion, real Temporal and
// storage) and as a baseline loop (the same fetcher streaming into the same storage driver, same
// concurrency, no Temporal), in this one process, and reports the ratio. BENCH_SCALE=0.1 shrinks
// every scenario for a quick look; BENCH_ONLY=<names> picks scenarios. Results: bench-results/results.json and a table on stderr.

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
/** BENCH_ONLY=small-file,ingest runs just those scenarios (all by default). */
const only = (name: string) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes(name);
const CONCURRENCY = 64;
const n = (count: number) => Math.max(1, Math.round(count * SCALE));

interface Row {
  scenario: string;
  resources: number;
  bytesEach: number;
  fetchboxSeconds: number;
  baselineSeconds: number;
  ratio: number; // FetchBox throughput / baseline throughput
  resourcesPerSecond: number;
  mibPerSecond: number;
  peakRssMiB: number;
  notes?: string;
}
const rows: Row[] = [];

let origin: Origin;
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin?.close();
  const table = [
    'scenario                  resources  FetchBox s  baseline s  ratio  res/s    MiB/s   peak RSS MiB',
    ...rows.map(
      (r) =>
        `${r.scenario.padEnd(25)} ${String(r.resources).padStart(9)}  ${r.fetchboxSeconds.toFixed(1).padStart(10)}  ${r.baselineSeconds.toFixed(1).padStart(10)}  ${r.ratio.toFixed(2).padStart(5)}  ${r.resourcesPerSecond.toFixed(0).padStart(6)}  ${r.mibPerSecond.toFixed(1).padStart(6)}  ${r.peakRssMiB.toFixed(0).padStart(6)}${r.notes ? `  ${r.notes}` : ''}`,
    ),
  ].join('\n');
  process.stderr.write(`\n${table}\n`);
  await mkdir(path.join(projectRoot, 'bench-results'), { recursive: true });
  await writeFile(path.join(projectRoot, 'bench-results', 'results.json'), JSON.stringify({ scale: SCALE, at: new Date().toISOString(), rows }, null, 2));
});

/** Peak RSS of this process while `fn` runs (the worker runs in this process). */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ result: T; peakMiB: number; seconds: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
  const started = performance.now();
  try {
    const result = await fn();
    return { result, peakMiB: peak / 1024 / 1024, seconds: (performance.now() - started) / 1000 };
  } finally {
    clearInterval(timer);
  }
}

/** The baseline: GET each URL with FetchBox's fetcher and stream it into storage, `CONCURRENCY` at a time. */
async function baseline(storage: Storage, urls: string[], prefix: string): Promise<void> {
  const fetcher = createFetcher({ ...(await import('../src/config/load-config.js')).loadConfig({ FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.0/8' }).fetch });
  let next = 0;
  const lane = async () => {
    while (next < urls.length) {
      const i = next++;
      const res = await fetcher.open({ url: urls[i]! });
      await storage.put({ key: `${prefix}/${i}`, body: res.body, ...(res.contentLength !== undefined ? { expectedBytes: res.contentLength } : {}) });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  await fetcher.close();
}

async function scenario(name: string, kind: StorageKind, count: number, size: number, env: Record<string, string> = {}, notes?: string): Promise<void> {
  const stack: Stack = await startStack(kind, { FETCHBOX_JOB_CONCURRENCY: String(CONCURRENCY), FETCHBOX_WORKER_MAX_CONCURRENT_ACTIVITIES: String(CONCURRENCY * 2), ...env });
  try {
    const jobId = uniqueJobId(name.replace(/\W+/g, '-'));
    const urls = Array.from({ length: count }, (_, i) => `${origin.url}/bytes/${size}/${jobId}-${i}`);
    const fb = await withPeakRss(async () => {
      const res = await stack.submit({ jobId, resources: urls.map((url) => ({ url })) });
      expect(res.status).toBe(202);
      const summary = await stack.waitForJob(jobId);
      expect(summary.resources.succeeded).toBe(count);
    });
    const base = await withPeakRss(() => baseline(stack.storage, urls.map((u) => `${u}-b`), `baseline-${jobId}`));
    const ratio = base.seconds / fb.seconds;
    rows.push({
      scenario: name,
      resources: count,
      bytesEach: size,
      fetchboxSeconds: fb.seconds,
      baselineSeconds: base.seconds,
      ratio,
      resourcesPerSecond: count / fb.seconds,
      mibPerSecond: (count * size) / fb.seconds / 1024 / 1024,
      peakRssMiB: fb.peakMiB,
      ...(notes ? { notes } : {}),
    });
  } finally {
    await stack.close();
  }
}

describe('benchmark', () => {
  it.runIf(only('small-file'))('small: 10,000 × 4 KiB into file storage', () => scenario('small-file', 'file', n(10_000), 4096), 1_800_000);
  it.runIf(only('small-s3'))('small: 10,000 × 4 KiB into S3 (MinIO)', () => scenario('small-s3', 's3', n(10_000), 4096), 1_800_000);
  it.runIf(only('large-s3'))('large: 4 × 256 MiB into S3 (MinIO)', () => scenario('large-s3', 's3', 4, Math.max(1, Math.round(256 * SCALE)) * 1024 * 1024), 1_800_000);
  it.runIf(only('wide-file'))('wide: one job of 100,000 × 1 KiB into file storage', () => scenario('wide-file', 'file', n(100_000), 1024), 3_600_000);

  it.runIf(only('ingest'))('ingest: POST /jobs of 10-resource manifests at rising rates', async () => {
    // Accept-only: a task queue no worker polls, so nothing is downloaded; the API and Temporal
    // do all the work an accept takes (validation, staging, workflow start).
    const stack = await startStack('file', { TEMPORAL_TASK_QUEUE: `bench-ingest-${Date.now()}` });
    stack.worker.shutdown();
    const port = await freePort();
    const server: ServerType = serve({ fetch: stack.app.fetch, hostname: '127.0.0.1', port });
    const agent = new Agent({ connections: 256 });
    try {
      for (const rate of [50, 100, 200]) {
        const seconds = Math.max(2, Math.round(5 * SCALE));
        const latencies: number[] = [];
        const inflight: Promise<void>[] = [];
        const started = performance.now();
        for (let i = 0; i < rate * seconds; i++) {
          const due = started + (i * 1000) / rate;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const body = JSON.stringify({ jobId: uniqueJobId(`ingest-${rate}`), resources: Array.from({ length: 10 }, (_, k) => ({ url: `https://example.test/${i}/${k}` })) });
          inflight.push(
            (async () => {
              const t = performance.now();
              const res = await request(`http://127.0.0.1:${port}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, dispatcher: agent });
              await res.body.dump();
              if (res.statusCode !== 202) throw new Error(`submit answered ${res.statusCode}`);
              latencies.push(performance.now() - t);
            })(),
          );
        }
        await Promise.all(inflight);
        latencies.sort((a, b) => a - b);
        const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
        const achieved = latencies.length / ((performance.now() - started) / 1000);
        rows.push({
          scenario: `ingest-${rate}rps`,
          resources: latencies.length,
          bytesEach: 0,
          fetchboxSeconds: (performance.now() - started) / 1000,
          baselineSeconds: 0,
          ratio: 0,
          resourcesPerSecond: achieved,
          mibPerSecond: 0,
          peakRssMiB: process.memoryUsage.rss() / 1024 / 1024,
          notes: `accept latency p50 ${p(0.5).toFixed(1)} ms, p99 ${p(0.99).toFixed(1)} ms`,
        });
      }
    } finally {
      await agent.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await stack.close();
    }
  }, 600_000);
});

