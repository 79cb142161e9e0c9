import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../src/config/load-config.js';
import { createFetcher } from '../src/fetch/fetcher.js';
import { createStorage } from '../src/storage/create-storage.js';
import type { Storage } from '../src/storage/storage.js';
import { projectRoot } from '../src/temporal/temporal-cli.js';
import { freePort } from '../test/support/ports.js';
import { uniqueJobId, type StorageKind } from '../test/support/stack.js';
import { startApiProcess, startOriginProcess, startWorkerProcess, type BenchProcess } from './fetchbox-process.js';

// `npm run bench`: each scenario runs through FetchBox (POST to completion: the API and a worker
// as their own processes, the real Temporal dev server and storage) and as a baseline loop (the
// same fetcher streaming into the same storage driver, same concurrency, no Temporal) in this
// process; the origin is a process of its own. The ratio compares the two. BENCH_SCALE=0.1 shrinks
// every scenario for a quick look; BENCH_ONLY=<names> picks scenarios; FETCHBOX_* variables reach
// FetchBox's processes, so knobs can be compared run against run. Results: bench-results/results.json
// and a table on stderr.

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
/** BENCH_ONLY=small-file,ingest runs just those scenarios (all by default). */
const only = (name: string) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes(name);
const CONCURRENCY = 64;
const n = (count: number) => Math.max(1, Math.round(count * SCALE));
/** FETCHBOX_* variables set for `npm run bench`, passed to every FetchBox process. */
const knobs = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('FETCHBOX_') && e[1] !== undefined));

interface Row {
  scenario: string;
  resources: number;
  bytesEach: number;
  fetchboxSeconds: number;
  baselineSeconds: number;
  /** FetchBox throughput / baseline throughput. */
  ratio: number;
  resourcesPerSecond: number;
  mibPerSecond: number;
  /** Peak RSS of the worker process (VmHWM), MiB. */
  workerPeakRssMiB: number;
  notes?: string;
}
const rows: Row[] = [];

let origin: BenchProcess & { url: string };
let connection: Connection;
let client: Client;
beforeAll(async () => {
  origin = await startOriginProcess();
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection });
  const minio = inject('minio');
  // The baseline's S3 storage reads credentials from the standard AWS chain, as FetchBox's does.
  process.env.AWS_ACCESS_KEY_ID = minio.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = minio.secretAccessKey;
});
afterAll(async () => {
  await origin?.stop();
  await connection?.close();
  const table = [
    'scenario                  resources  FetchBox s  baseline s  ratio  res/s    MiB/s   worker RSS MiB',
    ...rows.map(
      (r) =>
        `${r.scenario.padEnd(25)} ${String(r.resources).padStart(9)}  ${r.fetchboxSeconds.toFixed(1).padStart(10)}  ${r.baselineSeconds.toFixed(1).padStart(10)}  ${r.ratio.toFixed(2).padStart(5)}  ${r.resourcesPerSecond.toFixed(0).padStart(6)}  ${r.mibPerSecond.toFixed(1).padStart(6)}  ${r.workerPeakRssMiB.toFixed(0).padStart(6)}${r.notes ? `  ${r.notes}` : ''}`,
    ),
  ].join('\n');
  process.stderr.write(`\n${table}\n`);
  await mkdir(path.join(projectRoot, 'bench-results'), { recursive: true });
  await writeFile(path.join(projectRoot, 'bench-results', 'results.json'), JSON.stringify({ scale: SCALE, at: new Date().toISOString(), rows }, null, 2));
});

/** The environment of one scenario's FetchBox processes: its own task queue, data dir and storage. */
function stackEnv(kind: StorageKind, dataDir: string, taskQueue: string): Record<string, string> {
  const minio = inject('minio');
  return {
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: taskQueue,
    FETCHBOX_DATA_DIR: dataDir,
    FETCHBOX_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.0/8',
    FETCHBOX_JOB_CONCURRENCY: String(CONCURRENCY),
    FETCHBOX_WORKER_MAX_CONCURRENT_ACTIVITIES: String(CONCURRENCY * 2),
    FETCHBOX_WORKER_METRICS_PORT: '-1',
    ...(kind === 's3'
      ? {
          FETCHBOX_STORAGE_URL: `s3://${minio.bucket}/${taskQueue}`,
          FETCHBOX_S3_ENDPOINT: minio.endpoint,
          FETCHBOX_S3_REGION: minio.region,
          FETCHBOX_S3_FORCE_PATH_STYLE: 'true',
          AWS_ACCESS_KEY_ID: minio.accessKeyId,
          AWS_SECRET_ACCESS_KEY: minio.secretAccessKey,
        }
      : {}),
    ...knobs,
  };
}

/** The baseline: GET each URL with FetchBox's fetcher and stream it into storage, `CONCURRENCY` at a time. */
async function baseline(storage: Storage, urls: string[], prefix: string): Promise<void> {
  const fetcher = createFetcher(loadConfig({ FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.0/8' }).fetch);
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

async function json(url: string, init?: { method: string; body: string }): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(url, init ? { method: init.method, body: init.body, headers: { 'content-type': 'application/json' } } : {});
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

async function scenario(name: string, kind: StorageKind, count: number, size: number, notes?: string): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-bench-'));
  const env = stackEnv(kind, dataDir, `bench-${randomUUID()}`);
  const config = loadConfig(env);
  const storage = createStorage(config.storage);
  const api = await startApiProcess({ ...env, FETCHBOX_API_PORT: String(await freePort()) });
  const worker = await startWorkerProcess(env);
  try {
    const jobId = uniqueJobId(name.replace(/\W+/g, '-'));
    const urls = Array.from({ length: count }, (_, i) => `${origin.url}/bytes/${size}/${jobId}-${i}`);
    // The baseline runs before and after FetchBox and counts as their mean, so a drift in the
    // machine's speed during the scenario weighs on both sides alike.
    const runBaseline = async (round: string) => {
      const b0 = performance.now();
      await baseline(storage, urls.map((u) => `${u}-${round}`), `baseline-${round}-${jobId}`);
      return (performance.now() - b0) / 1000;
    };
    const before = await runBaseline('a');
    const started = performance.now();
    const submitted = await json(`${api.url}/jobs`, { method: 'POST', body: JSON.stringify({ jobId, resources: urls.map((url) => ({ url })) }) });
    expect(submitted.status).toBe(202);
    // Waits on the job workflow's result (a long poll through every continue-as-new run), so the
    // waiting costs FetchBox nothing; a crawler polling GET /jobs/{id} would add its queries.
    await client.workflow.getHandle(`job-${jobId}`).result();
    const fetchboxSeconds = (performance.now() - started) / 1000;
    const summary = (await json(`${api.url}/jobs/${jobId}`)).body;
    expect(summary).toMatchObject({ status: 'completed', resources: { succeeded: count } });
    const workerPeakRssMiB = worker.peakRssMiB();
    await worker.stop();
    await api.stop();
    const baselineSeconds = (before + (await runBaseline('b'))) / 2;
    rows.push({
      scenario: name,
      resources: count,
      bytesEach: size,
      fetchboxSeconds,
      baselineSeconds,
      ratio: baselineSeconds / fetchboxSeconds,
      resourcesPerSecond: count / fetchboxSeconds,
      mibPerSecond: (count * size) / fetchboxSeconds / 1024 / 1024,
      workerPeakRssMiB,
      ...(notes ? { notes } : {}),
    });
  } finally {
    await worker.stop();
    await api.stop();
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

describe('benchmark', () => {
  it.runIf(only('small-file'))('small: 10,000 × 4 KiB into file storage', () => scenario('small-file', 'file', n(10_000), 4096), 1_800_000);
  it.runIf(only('small-s3'))('small: 10,000 × 4 KiB into S3 (MinIO)', () => scenario('small-s3', 's3', n(10_000), 4096), 1_800_000);
  it.runIf(only('large-s3'))('large: 4 × 256 MiB into S3 (MinIO)', () => scenario('large-s3', 's3', 4, Math.max(1, Math.round(256 * SCALE)) * 1024 * 1024), 1_800_000);
  it.runIf(only('wide-file'))('wide: one job of 100,000 × 1 KiB into file storage', () => scenario('wide-file', 'file', n(100_000), 1024), 3_600_000);

  it.runIf(only('ingest'))('ingest: POST /jobs of 10-resource manifests at rising rates', async () => {
    // Accept-only: a task queue no worker polls, so nothing is downloaded; the API process and
    // Temporal do all the work an accept takes (validation, staging, workflow start). The load
    // generator is this process.
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-bench-'));
    const api = await startApiProcess({ ...stackEnv('file', dataDir, `bench-ingest-${randomUUID()}`), FETCHBOX_API_PORT: String(await freePort()) });
    const agent = new Agent({ connections: 256 });
    try {
      // Warm-up, not measured: the API's JIT and connections, as in a process that has been up.
      for (let i = 0; i < 100; i++) {
        const body = JSON.stringify({ jobId: uniqueJobId('ingest-warm'), resources: [{ url: `https://example.test/warm/${i}` }] });
        const res = await request(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, dispatcher: agent });
        await res.body.dump();
      }
      for (const rate of [50, 100, 200, 400]) {
        const seconds = Math.max(2, Math.round(10 * SCALE));
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
              const res = await request(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, dispatcher: agent });
              await res.body.dump();
              if (res.statusCode !== 202) throw new Error(`submit answered ${res.statusCode}`);
              latencies.push(performance.now() - t);
            })(),
          );
        }
        await Promise.all(inflight);
        latencies.sort((a, b) => a - b);
        const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
        const elapsed = (performance.now() - started) / 1000;
        rows.push({
          scenario: `ingest-${rate}rps`,
          resources: latencies.length,
          bytesEach: 0,
          fetchboxSeconds: elapsed,
          baselineSeconds: 0,
          ratio: 0,
          resourcesPerSecond: latencies.length / elapsed,
          mibPerSecond: 0,
          workerPeakRssMiB: 0,
          notes: `accept latency p50 ${p(0.5).toFixed(1)} ms, p99 ${p(0.99).toFixed(1)} ms (API RSS ${api.peakRssMiB().toFixed(0)} MiB)`,
        });
      }
    } finally {
      await agent.close();
      await api.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 600_000);
});
