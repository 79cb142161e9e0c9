import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../src/config/load-config.js';
import { createFetcher } from '../src/fetch/fetcher.js';
import { createStorage } from '../src/storage/store-registry.js';
import type { Storage } from '../src/storage/storage.js';
import { projectRoot } from '../src/temporal/temporal-cli.js';
import { pageWorkflowId } from '../src/model/ids.js';
import { freePort } from '../test/support/ports.js';
import { uniqueJobId, type StorageKind } from '../test/support/stack.js';
import {
  startApiProcess,
  startDevProcess,
  startFloorWorkerProcess,
  startOriginProcess,
  startWorkerProcess,
  type BenchProcess,
} from './fetchbox-process.js';
import type { floorWorkflow } from './floor-workflow.js';
import { eventSequence, historyBreakdown, jobHistoryStats, type WorkflowTypeCost } from './history-stats.js';
import { CLOSED_CLAUSE, quantile, runBurst, type BurstResult } from './many-small.js';
import { plainLoop, type PlainTarget } from './plain-baseline.js';
import { cpuSeconds, memoryMiB, scrapeMetrics, temporalServerPid, threadCpuDelta, threadCpuSeconds } from './proc-stats.js';

// `npm run bench`: each download scenario runs through FetchBox (POST to completion) and two
// baselines in this process, each before and after FetchBox (their mean counts, so a drift in the
// machine's speed weighs on both sides): the **plain** loop (undici GET hashed into a file or S3,
// no FetchBox code: bench/plain-baseline.ts) and the **fetcher** loop (FetchBox's own fetcher
// streaming into its storage driver, fsync and metadata included, no Temporal). Two topologies:
// `separated` (`fetchbox api` and `fetchbox worker` as processes of their own on the suite's
// in-memory Temporal dev server) and `dev` (`fetchbox dev` as a user runs it: one process with the
// worker and the API, its own Temporal dev server on SQLite in the data dir). The origin is a
// process of its own. `recrawl-file` runs one job twice with the same URLs and keys (the second
// revalidated with If-None-Match). BENCH_SCALE=0.1 shrinks every scenario; BENCH_ONLY=<names> picks scenarios;
// FETCHBOX_* variables reach FetchBox's processes. Results: bench-results/results.json and a table
// on stderr.

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
/** BENCH_ONLY=small-file,ingest runs just those scenarios (all by default). */
const only = (name: string) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes(name);
const CONCURRENCY = 64;
const n = (count: number) => Math.max(1, Math.round(count * SCALE));
/** FETCHBOX_* variables set for `npm run bench`, passed to every FetchBox process. */
const knobs = Object.fromEntries(
  Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('FETCHBOX_') && e[1] !== undefined),
);

/** CPU seconds per 1,000 resources, by process. */
interface CpuPer1k {
  /** The worker process (in `dev`: the one FetchBox process, worker and API together). */
  worker: number;
  /** The API process (separated topology only). */
  api: number;
  /** The Temporal dev server. */
  temporal: number;
}

interface Row {
  scenario: string;
  topology: 'separated' | 'dev' | 'ingest';
  resources: number;
  bytesEach: number;
  fetchboxSeconds: number;
  /** Mean of the plain loop before and after (no FetchBox code). */
  plainSeconds: number;
  /** Mean of the fetcher loop before and after (FetchBox's fetcher and storage driver). */
  baselineSeconds: number;
  /** FetchBox throughput / plain loop throughput. */
  vsPlain: number;
  /** FetchBox throughput / fetcher loop throughput. */
  ratio: number;
  resourcesPerSecond: number;
  mibPerSecond: number;
  /** RSS of the worker process once it polls, before the job (VmRSS), MiB. */
  workerIdleRssMiB: number;
  /** Peak RSS of the worker process (VmHWM), MiB. */
  workerPeakRssMiB: number;
  cpuSecondsPer1k?: CpuPer1k;
  eventsPer1k?: number;
  /** Batch lane-seconds over window × job time (bench/history-stats.ts). */
  laneOccupancy?: number;
  workflowTasksPer1k?: number;
  notes?: string;
  /** Everything a many-small or floor run measured (rates, latencies, per-job cost by workflow type). */
  details?: unknown;
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
const f = (v: number | undefined, digits: number, width: number) => (v === undefined ? '—' : v.toFixed(digits)).padStart(width);
afterAll(async () => {
  await origin?.stop();
  await connection?.close();
  const table = [
    'scenario        topology   resources  FetchBox s  plain s  fetcher s  vs plain  vs fetcher  res/s   MiB/s  RSS idle/peak MiB  CPU s/1k wrk+api / temporal  events/1k  wf tasks/1k',
    ...rows.map(
      (r) =>
        `${r.scenario.padEnd(15)} ${r.topology.padEnd(9)} ${String(r.resources).padStart(9)}  ${f(r.fetchboxSeconds, 1, 10)}  ${f(r.plainSeconds, 1, 7)}  ${f(r.baselineSeconds, 1, 9)}  ${f(r.vsPlain, 2, 8)}  ${f(r.ratio, 2, 10)}  ${f(r.resourcesPerSecond, 0, 5)}  ${f(r.mibPerSecond, 1, 6)}  ${f(r.workerIdleRssMiB, 0, 8)} / ${f(r.workerPeakRssMiB, 0, 6)}  ${f(r.cpuSecondsPer1k ? r.cpuSecondsPer1k.worker + r.cpuSecondsPer1k.api : undefined, 2, 16)} / ${f(r.cpuSecondsPer1k?.temporal, 2, 8)}  ${f(r.eventsPer1k, 0, 9)}  ${f(r.workflowTasksPer1k, 0, 11)}${r.notes ? `  ${r.notes}` : ''}`,
    ),
  ].join('\n');
  process.stderr.write(`\n${table}\n`);
  await mkdir(path.join(projectRoot, 'bench-results'), { recursive: true });
  await writeFile(
    path.join(projectRoot, 'bench-results', 'results.json'),
    JSON.stringify({ scale: SCALE, at: new Date().toISOString(), rows }, null, 2),
  );
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

/** The fetcher baseline: GET each URL with FetchBox's fetcher and stream it into storage, `CONCURRENCY` at a time. */
async function baseline(storage: Storage, urls: string[], prefix: string): Promise<void> {
  const fetcher = createFetcher(loadConfig({ FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.0/8' }).fetch);
  let next = 0;
  const lane = async () => {
    while (next < urls.length) {
      const i = next++;
      const res = await fetcher.open({ url: urls[i]! });
      await storage.put({
        key: `${prefix}/${i}`,
        body: res.body,
        ...(res.contentLength !== undefined ? { expectedBytes: res.contentLength } : {}),
      });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  await fetcher.close();
}

async function json(url: string, init?: { method: string; body: string }): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(url, init ? { method: init.method, body: init.body, headers: { 'content-type': 'application/json' } } : {});
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

/** CPU seconds this process spent in the baseline loops, by loop (the baselines' cost per resource). */
const baselineCpu = { plain: 0, fetcher: 0 };

async function timed(run: () => Promise<void>, loop: keyof typeof baselineCpu): Promise<number> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await run();
  const cpu = process.cpuUsage(cpu0);
  baselineCpu[loop] = (cpu.user + cpu.system) / 1e6;
  return (performance.now() - t0) / 1000;
}

/** Where the plain loop of a scenario writes (the same filesystem or bucket FetchBox stores into). */
function plainTarget(kind: StorageKind, dataDir: string, prefix: string): PlainTarget {
  const minio = inject('minio');
  return kind === 'file'
    ? { kind: 'file', dir: path.join(dataDir, 'plain', prefix) }
    : {
        kind: 's3',
        bucket: minio.bucket,
        prefix,
        endpoint: minio.endpoint,
        region: minio.region,
        credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
      };
}

/** One download scenario's FetchBox side: where to submit, whom to ask, which processes to measure. */
interface Target {
  apiUrl: string;
  client: Client;
  /** The worker process (in `dev`: the whole FetchBox process). */
  worker: BenchProcess;
  api?: BenchProcess;
  temporalPid: number | undefined;
}

/** Runs both baselines, then the job through FetchBox, then both baselines again; pushes the row. */
async function measure(
  name: string,
  topology: Row['topology'],
  kind: StorageKind,
  dataDir: string,
  storage: Storage,
  target: Target,
  count: number,
  size: number,
  notes?: string,
): Promise<void> {
  const jobId = uniqueJobId(name.replace(/\W+/g, '-'));
  const urls = Array.from({ length: count }, (_, i) => `${origin.url}/bytes/${size}/${jobId}-${i}`);
  const roundUrls = (round: string) => urls.map((u) => `${u}-${round}`);
  const runPlain = (round: string) =>
    timed(() => plainLoop(roundUrls(`p${round}`), plainTarget(kind, dataDir, `plain-${round}-${jobId}`), CONCURRENCY), 'plain');
  const runFetcher = (round: string) => timed(() => baseline(storage, roundUrls(round), `baseline-${round}-${jobId}`), 'fetcher');
  const plainBefore = await runPlain('a');
  const fetcherBefore = await runFetcher('a');
  const workerIdleRssMiB = memoryMiB(target.worker.pid, 'VmRSS');
  const cpu0 = {
    worker: cpuSeconds(target.worker.pid),
    api: target.api ? cpuSeconds(target.api.pid) : 0,
    temporal: target.temporalPid ? cpuSeconds(target.temporalPid) : 0,
  };
  const threads0 = threadCpuSeconds(target.worker.pid);
  const started = performance.now();
  const submitted = await json(`${target.apiUrl}/jobs`, {
    method: 'POST',
    body: JSON.stringify({ jobId, resources: urls.map((url) => ({ url })) }),
  });
  expect(submitted.status).toBe(202);
  // Waits on the job workflow's result (a long poll through every continue-as-new run), so the
  // waiting costs FetchBox nothing; a crawler polling GET /jobs/{id} would add its queries.
  await target.client.workflow.getHandle(`job-${jobId}`).result();
  const fetchboxSeconds = (performance.now() - started) / 1000;
  const per1k = 1000 / count;
  const workerThreads = threadCpuDelta(threads0, threadCpuSeconds(target.worker.pid), per1k);
  const cpuSecondsPer1k: CpuPer1k = {
    worker: (cpuSeconds(target.worker.pid) - cpu0.worker) * per1k,
    api: target.api ? (cpuSeconds(target.api.pid) - cpu0.api) * per1k : 0,
    temporal: target.temporalPid ? (cpuSeconds(target.temporalPid) - cpu0.temporal) * per1k : 0,
  };
  const workerPeakRssMiB = memoryMiB(target.worker.pid, 'VmHWM');
  const summary = (await json(`${target.apiUrl}/jobs/${jobId}`)).body;
  expect(summary).toMatchObject({ status: 'completed', resources: { succeeded: count } });
  const history = await jobHistoryStats(target.client, jobId, CONCURRENCY);
  const fetcherAfter = await runFetcher('b');
  const fetcherCpuPer1k = baselineCpu.fetcher * per1k;
  const plainAfter = await runPlain('b');
  const plainCpuPer1k = baselineCpu.plain * per1k;
  const plainSeconds = (plainBefore + plainAfter) / 2;
  const baselineSeconds = (fetcherBefore + fetcherAfter) / 2;
  rows.push({
    scenario: name,
    topology,
    resources: count,
    bytesEach: size,
    fetchboxSeconds,
    plainSeconds,
    baselineSeconds,
    vsPlain: plainSeconds / fetchboxSeconds,
    ratio: baselineSeconds / fetchboxSeconds,
    resourcesPerSecond: count / fetchboxSeconds,
    mibPerSecond: (count * size) / fetchboxSeconds / 1024 / 1024,
    workerIdleRssMiB,
    workerPeakRssMiB,
    cpuSecondsPer1k,
    eventsPer1k: history.events * per1k,
    laneOccupancy: history.laneOccupancy,
    workflowTasksPer1k: history.workflowTasks * per1k,
    notes: `plain ${plainBefore.toFixed(1)}/${plainAfter.toFixed(1)} s, fetcher ${fetcherBefore.toFixed(1)}/${fetcherAfter.toFixed(1)} s, ${history.executions} runs, lane occupancy ${history.laneOccupancy.toFixed(2)}, page start ${history.pageStartMs} ms, batch hand-over ${history.handOverMs} ms; loop CPU s/1k plain ${plainCpuPer1k.toFixed(2)}, fetcher ${fetcherCpuPer1k.toFixed(2)}; worker threads CPU s/1k: ${workerThreads}${notes ? `; ${notes}` : ''}`,
  });
}

/** The separated topology: `fetchbox api` and `fetchbox worker` on the suite's Temporal dev server. */
async function scenario(name: string, kind: StorageKind, count: number, size: number, notes?: string): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-bench-'));
  const env = stackEnv(kind, dataDir, `bench-${randomUUID()}`);
  const config = loadConfig(env);
  const storage = createStorage(config.storage);
  const api = await startApiProcess({ ...env, FETCHBOX_API_PORT: String(await freePort()) });
  const worker = await startWorkerProcess(env);
  try {
    const temporalPid = temporalServerPid(Number(inject('temporalAddress').split(':').pop()));
    await measure(name, 'separated', kind, dataDir, storage, { apiUrl: api.url, client, worker, api, temporalPid }, count, size, notes);
  } finally {
    await worker.stop();
    await api.stop();
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** A running `fetchbox dev` (bench/fetchbox-process.ts) and what the bench measures it with. */
interface DevStack {
  env: Record<string, string>;
  dataDir: string;
  dev: BenchProcess & { url: string };
  /** A client of the dev process's own Temporal server. */
  client: Client;
  temporalPid: number | undefined;
  storage: Storage;
  /** The worker's Temporal (SDK and core) metrics: sticky cache, task latencies. */
  temporalMetricsUrl: string;
  /** FetchBox's own metrics of the dev process: the main thread's heap and external memory. */
  metricsUrl: string;
  close(): Promise<void>;
}

/**
 * The dev topology: `fetchbox dev` as `npm run dev` starts it (worker and API in one process, the
 * workflows bundled at start, its own Temporal dev server on SQLite under the data dir, file
 * storage), with FETCHBOX_JOB_CONCURRENCY=64 and otherwise the defaults a user gets.
 */
async function startDevStack(): Promise<DevStack> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-bench-dev-'));
  const temporalPort = await freePort();
  const env: Record<string, string> = {
    FETCHBOX_DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    FETCHBOX_TEMPORAL_UI_URL: `http://127.0.0.1:${await freePort()}`,
    FETCHBOX_API_PORT: String(await freePort()),
    FETCHBOX_WORKER_METRICS_PORT: String(await freePort()),
    FETCHBOX_WORKER_TEMPORAL_METRICS_PORT: String(await freePort()),
    FETCHBOX_JOB_CONCURRENCY: String(CONCURRENCY),
    ...knobs,
  };
  const dev = await startDevProcess(env);
  const devConnection = await Connection.connect({ address: env.TEMPORAL_ADDRESS! });
  const storage = createStorage(loadConfig({ FETCHBOX_DATA_DIR: dataDir }).storage);
  return {
    env,
    dataDir,
    dev,
    client: new Client({ connection: devConnection }),
    temporalPid: temporalServerPid(temporalPort),
    storage,
    temporalMetricsUrl: `http://127.0.0.1:${env.FETCHBOX_WORKER_TEMPORAL_METRICS_PORT}/metrics`,
    metricsUrl: `http://127.0.0.1:${env.FETCHBOX_WORKER_METRICS_PORT}/metrics`,
    async close() {
      await devConnection.close();
      await dev.stop();
      await storage.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs one job of `count` resources through `fetchbox dev` (measure(): baselines before and after). */
async function devScenario(name: string, count: number, size: number): Promise<void> {
  const stack = await startDevStack();
  try {
    await measure(
      name,
      'dev',
      'file',
      stack.dataDir,
      stack.storage,
      { apiUrl: stack.dev.url, client: stack.client, worker: stack.dev, temporalPid: stack.temporalPid },
      count,
      size,
    );
  } finally {
    await stack.close();
  }
}

/** The origin's counters (bench/origin-process.mjs `GET /stats`): body bytes sent, 200s and 304s on `/bytes`. */
interface OriginStats {
  bodyBytes: number;
  ok: number;
  notModified: number;
}
const originStats = async (): Promise<OriginStats> => (await json(`${origin.url}/stats`)).body as unknown as OriginStats;

/** How many of a closed job's resources ended `notModified` (GET /jobs/{id}/resources, 1,000 a page). */
async function notModifiedCount(apiUrl: string, jobId: string): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  do {
    const page = await json(`${apiUrl}/jobs/${jobId}/resources?status=succeeded&limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.status).toBe(200);
    const items = page.body.items as { notModified?: boolean }[];
    count += items.filter((r) => r.notModified === true).length;
    cursor = page.body.nextCursor as string | null;
  } while (cursor);
  return count;
}

/**
 * Conditional recrawls (`separated`, file storage): one job of `count` resources with explicit
 * keys (default keys include the job id, so a second job would address new objects), then a second
 * job with a new id, the same URLs and the same keys. The origin gives every body an ETag and
 * answers a matching If-None-Match with 304, so the second job should fetch no body. A row per
 * run: time, the origin's body bytes and 304s, and the resources that ended `notModified`. No
 * baseline loops (the first run is `small-file`'s job; its baselines are there).
 */
async function recrawlScenario(name: string, count: number, size: number): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-bench-recrawl-'));
  const env = stackEnv('file', dataDir, `bench-${randomUUID()}`);
  const api = await startApiProcess({ ...env, FETCHBOX_API_PORT: String(await freePort()) });
  const worker = await startWorkerProcess(env);
  try {
    const temporalPid = temporalServerPid(Number(inject('temporalAddress').split(':').pop()));
    const base = uniqueJobId(name);
    const resources = Array.from({ length: count }, (_, i) => ({ url: `${origin.url}/bytes/${size}/${base}-${i}`, key: `recrawl/${i}` }));
    const workerIdleRssMiB = memoryMiB(worker.pid, 'VmRSS');
    for (const run of ['first', 'second'] as const) {
      const jobId = `${base}-${run}`;
      const stats0 = await originStats();
      const cpu0 = {
        worker: cpuSeconds(worker.pid),
        api: cpuSeconds(api.pid),
        temporal: temporalPid ? cpuSeconds(temporalPid) : 0,
      };
      const started = performance.now();
      const submitted = await json(`${api.url}/jobs`, { method: 'POST', body: JSON.stringify({ jobId, resources }) });
      expect(submitted.status).toBe(202);
      await client.workflow.getHandle(`job-${jobId}`).result();
      const seconds = (performance.now() - started) / 1000;
      const per1k = 1000 / count;
      const cpuSecondsPer1k: CpuPer1k = {
        worker: (cpuSeconds(worker.pid) - cpu0.worker) * per1k,
        api: (cpuSeconds(api.pid) - cpu0.api) * per1k,
        temporal: temporalPid ? (cpuSeconds(temporalPid) - cpu0.temporal) * per1k : 0,
      };
      const stats1 = await originStats();
      const summary = (await json(`${api.url}/jobs/${jobId}`)).body;
      expect(summary).toMatchObject({ status: 'completed', resources: { succeeded: count } });
      const notModified = await notModifiedCount(api.url, jobId);
      const history = await jobHistoryStats(client, jobId, CONCURRENCY);
      const bodyBytes = stats1.bodyBytes - stats0.bodyBytes;
      rows.push({
        scenario: `${name}-${run === 'first' ? '1' : '2'}`,
        topology: 'separated',
        resources: count,
        bytesEach: size,
        fetchboxSeconds: seconds,
        plainSeconds: 0,
        baselineSeconds: 0,
        vsPlain: 0,
        ratio: 0,
        resourcesPerSecond: count / seconds,
        mibPerSecond: bodyBytes / seconds / 1024 / 1024,
        workerIdleRssMiB,
        workerPeakRssMiB: memoryMiB(worker.pid, 'VmHWM'),
        cpuSecondsPer1k,
        eventsPer1k: history.events * per1k,
        laneOccupancy: history.laneOccupancy,
        workflowTasksPer1k: history.workflowTasks * per1k,
        notes: `${run} run: origin sent ${bodyBytes} body bytes (${(bodyBytes / 1024 / 1024).toFixed(1)} MiB) in ${stats1.ok - stats0.ok} 200s and ${stats1.notModified - stats0.notModified} 304s; ${notModified} of ${count} resources notModified; no baseline loops (MiB/s = body bytes fetched)`,
      });
      if (run === 'second') expect(notModified).toBe(count);
    }
  } finally {
    await worker.stop();
    await api.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** The `many-small` scenarios: resources per job, their size, and how many clients submit at once. */
const MANY_SMALL = { perJob: 10, bytes: 4096, submitters: 16 } as const;

/** Rate and latency of one burst of workflows (many-small jobs or the floor's). */
interface BurstSummary {
  count: number;
  seconds: number;
  perSecond: number;
  submitMs: { p50: number; p99: number };
  submitToClosedMs: { p50: number; p99: number };
}

function summarize(result: BurstResult): BurstSummary {
  const submit = result.items.map((x) => x.submitMs);
  const closed = result.items.map((x) => x.closedAt - x.sentAt);
  return {
    count: result.items.length,
    seconds: result.seconds,
    perSecond: result.items.length / result.seconds,
    submitMs: { p50: quantile(submit, 0.5), p99: quantile(submit, 0.99) },
    submitToClosedMs: { p50: quantile(closed, 0.5), p99: quantile(closed, 0.99) },
  };
}

/** What a burst cost per workflow (per job for many-small): history, tasks, CPU. */
interface PerItemCost {
  events: number;
  workflowTasks: number;
  activityTasks: number;
  localActivities: number;
  /** CPU seconds per item: the process running the worker (and, for FetchBox, the API), the Temporal server. */
  cpuSeconds: { worker: number; temporal: number };
  /** The whole breakdown by workflow type (bench/history-stats.ts), summed over the burst, not per item. */
  byType: Record<string, WorkflowTypeCost>;
}

function perItemCost(byType: Record<string, WorkflowTypeCost>, count: number, cpu: { worker: number; temporal: number }): PerItemCost {
  const all = Object.values(byType);
  const sum = (pick: (c: WorkflowTypeCost) => number) => all.reduce((a, c) => a + pick(c), 0) / count;
  return {
    events: sum((c) => c.events),
    workflowTasks: sum((c) => c.workflowTasks),
    activityTasks: sum((c) => Object.values(c.activityTasks).reduce((a, b) => a + b, 0)),
    localActivities: sum((c) => c.localActivities),
    cpuSeconds: { worker: cpu.worker / count, temporal: cpu.temporal / count },
    byType,
  };
}

/** Per workflow type, per item: runs, events, workflow tasks and activity tasks by type, as one line of text. */
function breakdownText(byType: Record<string, WorkflowTypeCost>, count: number): string {
  const per = (v: number) => (v / count).toFixed(2).replace(/\.?0+$/, '');
  return Object.entries(byType)
    .map(([type, c]) => {
      const activities = Object.entries(c.activityTasks)
        .map(([name, k]) => `${name} ${per(k)}`)
        .join(', ');
      const markers = Object.entries(c.markers)
        .map(([name, k]) => `${name} ${per(k)}`)
        .join(', ');
      const upserts = c.eventTypes.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES ?? 0;
      return `${type}: ${per(c.runs)} runs, ${per(c.events)} events, ${per(c.workflowTasks)} wf tasks${activities ? `, activities ${activities}` : ''}${markers ? `, markers ${markers}` : ''}${upserts ? `, search attribute upserts ${per(upserts)}` : ''}`;
    })
    .join('; ');
}

/** CPU seconds so far of a process that may not have been found (the Temporal server). */
const cpuOr0 = (pid: number | undefined) => (pid ? cpuSeconds(pid) : 0);

/** The floor: `count` minimal one-activity workflows (bench/floor-workflow.ts) started at once by the scenario's submitters. */
interface FloorOutcome extends BurstSummary {
  cost: PerItemCost;
  workerPeakRssMiB: number;
}

/**
 * The floor on the dev stack's Temporal server: a worker process of its own (bench/floor-worker.mjs,
 * the dev process's FETCHBOX_* settings, so the same activity slots and pollers) on a task queue
 * of its own; `count` workflows started straight through Temporal by MANY_SMALL.submitters clients,
 * as fast as each start is acknowledged. The dev process idles meanwhile.
 */
async function floorRun(stack: DevStack, count: number): Promise<FloorOutcome> {
  const taskQueue = `bench-floor-${randomUUID()}`;
  const prefix = `floor-${randomUUID().slice(0, 8)}`;
  const worker = await startFloorWorkerProcess({ ...stack.env, BENCH_FLOOR_TASK_QUEUE: taskQueue });
  try {
    const cpu0 = { worker: cpuSeconds(worker.pid), temporal: cpuOr0(stack.temporalPid) };
    const result = await runBurst({
      client: stack.client,
      count,
      submitters: MANY_SMALL.submitters,
      submit: async (i) => {
        await stack.client.workflow.start<typeof floorWorkflow>('floorWorkflow', { taskQueue, workflowId: `${prefix}-${i}` });
      },
      workflowId: (i) => `${prefix}-${i}`,
      closedQuery: `WorkflowId STARTS_WITH '${prefix}-' AND ${CLOSED_CLAUSE}`,
      timeoutMs: 600_000,
    });
    const cpu = { worker: cpuSeconds(worker.pid) - cpu0.worker, temporal: cpuOr0(stack.temporalPid) - cpu0.temporal };
    expect(result.items.filter((x) => x.status !== 'COMPLETED')).toEqual([]);
    const byType = await historyBreakdown(stack.client, `WorkflowId STARTS_WITH '${prefix}-'`);
    return { ...summarize(result), cost: perItemCost(byType, count, cpu), workerPeakRssMiB: memoryMiB(worker.pid, 'VmHWM') };
  } finally {
    await worker.stop();
  }
}

/** One many-small run on a dev stack: rates, latencies, per-job cost and the dev process's memory. */
interface ManySmallOutcome extends BurstSummary {
  jobs: number;
  resources: number;
  cost: PerItemCost;
  rssMiB: { before: number; after: number; peak: number; anon: number; file: number };
  /** The main thread's heap used/total and external memory after the run, MiB (the rest of RSS is native and the workflow thread). */
  heapMiB: Record<string, number>;
  /** The same and RSS 30 s after the run, MiB. */
  settledMiB: Record<string, number>;
  /** Deltas of the worker's Temporal counters over the run (sticky cache hits, misses, forced evictions; failed tasks). */
  workerTemporalMetrics: Record<string, number>;
  /** The event types of the first job's workflow and of its page child (none: empty), in order (bench/history-stats.ts eventSequence). */
  sample: { job: string[]; page: string[] };
  /** CPU milliseconds per job of the dev process's threads by name (main, WorkerThread = workflows, tokio = Temporal's core, libuv). */
  threadsPerJob: string;
}

/**
 * With BENCH_HEAP_SNAPSHOT_DIR (and BENCH_DEV_NODE_ARGS="--heapsnapshot-signal=SIGUSR2
 * --diagnostic-dir=<that dir>"): a heap snapshot of the dev process after the run, to find what
 * holds its memory. Waits until the snapshot file stops growing.
 */
async function heapSnapshot(pid: number, dir: string): Promise<void> {
  const before = new Set(await readdir(dir));
  process.kill(pid, 'SIGUSR2');
  let last = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 2_000));
    const file = (await readdir(dir)).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    const size = file === undefined ? -1 : (await stat(path.join(dir, file))).size;
    if (size > 0 && size === last) return;
    last = size;
  }
}

/** Where the dev process's RSS is, after a run: the main thread's V8 heap and external memory. */
const MEMORY_METRICS = /^fetchbox_worker_nodejs_(heap_size_used_bytes|heap_size_total_bytes|external_memory_bytes)$/;

/** The worker's Temporal counters the many-small runs report (deltas over the run). */
const WORKER_METRICS =
  /sticky_cache_(hit|miss|total_forced_eviction)|task_execution_failed|workflow_task_execution_latency_seconds_(sum|count)|workflow_task_schedule_to_start_latency_seconds_(sum|count)|activity_schedule_to_start_latency_seconds_(sum|count)/;

/**
 * `jobs` jobs of MANY_SMALL.perJob × MANY_SMALL.bytes through `fetchbox dev`'s API: closed loop by
 * MANY_SMALL.submitters clients, or open loop at `rate` jobs/s. Waits on visibility (bench/many-small.ts),
 * then checks every job's summary (completed, every resource succeeded) and reads its histories.
 */
async function manySmallRun(stack: DevStack, jobs: number, rate?: number): Promise<ManySmallOutcome> {
  const prefix = uniqueJobId('many-small');
  const jobIdOf = (i: number) => `${prefix}-${i}`;
  const agent = new Agent({ connections: 64 });
  try {
    const before = memoryMiB(stack.dev.pid, 'VmRSS');
    const metrics0 = await scrapeMetrics(stack.temporalMetricsUrl, WORKER_METRICS);
    const threads0 = threadCpuSeconds(stack.dev.pid);
    const cpu0 = { worker: cpuSeconds(stack.dev.pid), temporal: cpuOr0(stack.temporalPid) };
    const result = await runBurst({
      client: stack.client,
      count: jobs,
      submitters: MANY_SMALL.submitters,
      ...(rate !== undefined ? { rate } : {}),
      submit: async (i) => {
        const jobId = jobIdOf(i);
        const resources = Array.from({ length: MANY_SMALL.perJob }, (_, k) => ({
          url: `${origin.url}/bytes/${MANY_SMALL.bytes}/${jobId}-${k}`,
        }));
        const res = await request(`${stack.dev.url}/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jobId, resources }),
          dispatcher: agent,
        });
        const text = await res.body.text();
        if (res.statusCode !== 202) throw new Error(`submit of ${jobId} answered ${res.statusCode}: ${text}`);
      },
      workflowId: (i) => `job-${jobIdOf(i)}`,
      closedQuery: `WorkflowType = 'jobWorkflow' AND WorkflowId STARTS_WITH 'job-${prefix}-' AND ${CLOSED_CLAUSE}`,
      timeoutMs: 1_800_000,
    });
    const cpu = { worker: cpuSeconds(stack.dev.pid) - cpu0.worker, temporal: cpuOr0(stack.temporalPid) - cpu0.temporal };
    const threadsPerJob = threadCpuDelta(threads0, threadCpuSeconds(stack.dev.pid), 1000 / jobs);
    const rssMiB = {
      before,
      after: memoryMiB(stack.dev.pid, 'VmRSS'),
      peak: memoryMiB(stack.dev.pid, 'VmHWM'),
      anon: memoryMiB(stack.dev.pid, 'RssAnon'),
      file: memoryMiB(stack.dev.pid, 'RssFile'),
    };
    const memory = await scrapeMetrics(stack.metricsUrl, MEMORY_METRICS);
    if (process.env.BENCH_HEAP_SNAPSHOT_DIR) await heapSnapshot(stack.dev.pid, process.env.BENCH_HEAP_SNAPSHOT_DIR);
    const metrics1 = await scrapeMetrics(stack.temporalMetricsUrl, WORKER_METRICS);
    const workerTemporalMetrics = Object.fromEntries(Object.entries(metrics1).map(([name, v]) => [name, v - (metrics0[name] ?? 0)]));
    // After the timing: every job completed with every resource stored (the API's own summary).
    let next = 0;
    const wrong: unknown[] = [];
    const checker = async () => {
      while (next < jobs) {
        const jobId = jobIdOf(next++);
        const summary = (await json(`${stack.dev.url}/jobs/${jobId}`)).body as { status?: string; resources?: { succeeded?: number } };
        if (summary.status !== 'completed' || summary.resources?.succeeded !== MANY_SMALL.perJob) wrong.push({ jobId, summary });
      }
    };
    await Promise.all(Array.from({ length: 8 }, checker));
    expect(wrong).toEqual([]);
    const byType = await historyBreakdown(stack.client, `WorkflowId STARTS_WITH 'job-${prefix}-'`);
    // V8 gives back the heap it grew only once the process idles (its memory reducer): RSS 30 s on.
    await new Promise((r) => setTimeout(r, 30_000));
    const settled = { rss: memoryMiB(stack.dev.pid, 'VmRSS'), ...(await scrapeMetrics(stack.metricsUrl, MEMORY_METRICS)) };
    const sample = {
      job: await eventSequence(stack.client, `job-${jobIdOf(0)}`),
      // A job that runs its page inline has no page child: an empty sequence then.
      page: await eventSequence(stack.client, pageWorkflowId(jobIdOf(0), 0, 0)).catch(() => []),
    };
    return {
      ...summarize(result),
      jobs,
      resources: jobs * MANY_SMALL.perJob,
      cost: perItemCost(byType, jobs, cpu),
      rssMiB,
      settledMiB: Object.fromEntries(
        Object.entries(settled).map(([name, v]) => [
          name.replace(/^fetchbox_worker_nodejs_|_bytes$/g, ''),
          name === 'rss' ? v : v / 1024 / 1024,
        ]),
      ),
      heapMiB: Object.fromEntries(
        Object.entries(memory).map(([name, v]) => [name.replace(/^fetchbox_worker_nodejs_|_bytes$/g, ''), v / 1024 / 1024]),
      ),
      workerTemporalMetrics,
      sample,
      threadsPerJob,
    };
  } finally {
    await agent.close();
  }
}

const ms0 = (v: number) => v.toFixed(0);

/** The row of a many-small run (CPU and history per 1,000 resources as the other rows; per job in the notes). */
function manySmallRow(name: string, outcome: ManySmallOutcome, notes: string): Row {
  const per1k = 1000 / outcome.resources;
  const c = outcome.cost;
  return {
    scenario: name,
    topology: 'dev',
    resources: outcome.resources,
    bytesEach: MANY_SMALL.bytes,
    fetchboxSeconds: outcome.seconds,
    plainSeconds: 0,
    baselineSeconds: 0,
    vsPlain: 0,
    ratio: 0,
    resourcesPerSecond: outcome.resources / outcome.seconds,
    mibPerSecond: (outcome.resources * MANY_SMALL.bytes) / outcome.seconds / 1024 / 1024,
    workerIdleRssMiB: outcome.rssMiB.before,
    workerPeakRssMiB: outcome.rssMiB.peak,
    cpuSecondsPer1k: { worker: c.cpuSeconds.worker * outcome.jobs * per1k, api: 0, temporal: c.cpuSeconds.temporal * outcome.jobs * per1k },
    eventsPer1k: c.events * outcome.jobs * per1k,
    workflowTasksPer1k: c.workflowTasks * outcome.jobs * per1k,
    notes:
      `${outcome.jobs} jobs × ${MANY_SMALL.perJob}: ${outcome.perSecond.toFixed(2)} jobs/s; submit p50/p99 ${ms0(outcome.submitMs.p50)}/${ms0(outcome.submitMs.p99)} ms; ` +
      `submit-to-closed p50/p99 ${ms0(outcome.submitToClosedMs.p50)}/${ms0(outcome.submitToClosedMs.p99)} ms; ` +
      `per job: ${c.events.toFixed(1)} events, ${c.workflowTasks.toFixed(1)} wf tasks, ${c.activityTasks.toFixed(1)} activity tasks, ` +
      `CPU s ${c.cpuSeconds.worker.toFixed(3)} fetchbox dev / ${c.cpuSeconds.temporal.toFixed(3)} Temporal; dev threads CPU ms per job: ${outcome.threadsPerJob}; ` +
      `dev RSS before ${ms0(outcome.rssMiB.before)}, after ${ms0(outcome.rssMiB.after)}, peak ${ms0(outcome.rssMiB.peak)} MiB ` +
      `(after: anon ${ms0(outcome.rssMiB.anon)}, file ${ms0(outcome.rssMiB.file)}; main heap ${Object.entries(outcome.heapMiB)
        .map(([k, v]) => `${k} ${ms0(v)}`)
        .join(', ')} MiB); ` +
      `30 s later: ${Object.entries(outcome.settledMiB)
        .map(([k, v]) => `${k} ${ms0(v)}`)
        .join(', ')} MiB; ` +
      `${breakdownText(c.byType, outcome.jobs)}; ` +
      `worker Temporal counters: ${Object.entries(outcome.workerTemporalMetrics)
        .filter(([name]) => /sticky|failed/.test(name))
        .map(([name, v]) => `${name.replace(/^temporal_/, '')} ${ms0(v)}`)
        .join(', ')}${notes ? `; ${notes}` : ''}`,
    details: outcome,
  };
}

function floorRow(name: string, floor: FloorOutcome): Row {
  const c = floor.cost;
  return {
    scenario: name,
    topology: 'dev',
    resources: floor.count,
    bytesEach: 0,
    fetchboxSeconds: floor.seconds,
    plainSeconds: 0,
    baselineSeconds: 0,
    vsPlain: 0,
    ratio: 0,
    resourcesPerSecond: floor.perSecond,
    mibPerSecond: 0,
    workerIdleRssMiB: 0,
    workerPeakRssMiB: floor.workerPeakRssMiB,
    notes:
      `${floor.count} minimal workflows: ${floor.perSecond.toFixed(2)} workflows/s (res/s column); start p50/p99 ${ms0(floor.submitMs.p50)}/${ms0(floor.submitMs.p99)} ms; ` +
      `start-to-closed p50/p99 ${ms0(floor.submitToClosedMs.p50)}/${ms0(floor.submitToClosedMs.p99)} ms; per workflow: ${c.events.toFixed(1)} events, ` +
      `${c.workflowTasks.toFixed(1)} wf tasks, ${c.activityTasks.toFixed(1)} activity tasks, CPU s ${c.cpuSeconds.worker.toFixed(4)} floor worker / ${c.cpuSeconds.temporal.toFixed(4)} Temporal`,
    details: floor,
  };
}

/**
 * `many-small` (dev topology, one `fetchbox dev` and its Temporal server for all of it): the floor,
 * then the one-job scenario of the same resources (`many-small-one-job`: 5,000 × 4 KiB as one job,
 * with measure()'s baselines), then the same 5,000 as 500 jobs of 10 from 16 submitters, then the
 * floor again. The floor's rate counts as the mean of both; the key result is many-small jobs/s ÷
 * floor workflows/s.
 */
async function manySmallScenario(jobs: number): Promise<void> {
  const stack = await startDevStack();
  try {
    const floorBefore = await floorRun(stack, jobs);
    await measure(
      'many-small-one-job',
      'dev',
      'file',
      stack.dataDir,
      stack.storage,
      { apiUrl: stack.dev.url, client: stack.client, worker: stack.dev, temporalPid: stack.temporalPid },
      jobs * MANY_SMALL.perJob,
      MANY_SMALL.bytes,
      'the one-job twin of many-small, same fetchbox dev',
    );
    const outcome = await manySmallRun(stack, jobs);
    const floorAfter = await floorRun(stack, jobs);
    const floorRate = (floorBefore.perSecond + floorAfter.perSecond) / 2;
    const oneJob = rows.find((r) => r.scenario === 'many-small-one-job')!;
    rows.push(floorRow('floor-before', floorBefore), floorRow('floor-after', floorAfter));
    rows.push(
      manySmallRow(
        'many-small',
        outcome,
        `vs floor ${(outcome.perSecond / floorRate).toFixed(2)}× (floor ${floorBefore.perSecond.toFixed(1)}/${floorAfter.perSecond.toFixed(1)} workflows/s); ` +
          `vs one job ${(outcome.resources / outcome.seconds / oneJob.resourcesPerSecond).toFixed(2)}× resources/s`,
      ),
    );
  } finally {
    await stack.close();
  }
}

/**
 * `many-small-steady`: `seconds` of MANY_SMALL jobs at `rate` jobs/s (open loop) through a fresh
 * `fetchbox dev` after a warm-up burst of 20 jobs; submit-to-closed p50/p99 and the dev process's
 * RSS idle (before the warm-up), before the steady run and after it.
 */
async function steadyScenario(rate: number, seconds: number): Promise<void> {
  const stack = await startDevStack();
  try {
    const idle = memoryMiB(stack.dev.pid, 'VmRSS');
    await manySmallRun(stack, 20);
    const outcome = await manySmallRun(stack, rate * seconds, rate);
    rows.push(
      manySmallRow(
        'many-small-steady',
        outcome,
        `${rate} jobs/s for ${seconds} s (open loop); dev RSS idle before warm-up ${ms0(idle)} MiB`,
      ),
    );
  } finally {
    await stack.close();
  }
}

describe('benchmark', () => {
  it.runIf(only('dev'))('dev: fetchbox dev, 10,000 × 4 KiB into file storage', () => devScenario('dev', n(10_000), 4096), 1_800_000);
  it.runIf(only('many-small'))(
    'many-small: 500 jobs × 10 × 4 KiB from 16 submitters beside one job of 5,000 and the floor, on fetchbox dev',
    () => manySmallScenario(n(500)),
    3_600_000,
  );
  it.runIf(only('many-small-steady'))(
    'many-small-steady: 10 jobs/s of 10 × 4 KiB for 60 s on fetchbox dev',
    () => steadyScenario(10, Math.max(5, Math.round(60 * SCALE))),
    1_800_000,
  );
  it.runIf(only('small-file'))('small: 10,000 × 4 KiB into file storage', () => scenario('small-file', 'file', n(10_000), 4096), 1_800_000);
  it.runIf(only('small-s3'))('small: 10,000 × 4 KiB into S3 (MinIO)', () => scenario('small-s3', 's3', n(10_000), 4096), 1_800_000);
  it.runIf(only('large-s3'))(
    'large: 4 × 256 MiB into S3 (MinIO)',
    () => scenario('large-s3', 's3', 4, Math.max(1, Math.round(256 * SCALE)) * 1024 * 1024),
    1_800_000,
  );
  it.runIf(only('recrawl-file'))(
    'recrawl: the same 10,000 × 4 KiB job twice into file storage, the second answered by 304s',
    () => recrawlScenario('recrawl-file', n(10_000), 4096),
    1_800_000,
  );
  it.runIf(only('wide-file'))(
    'wide: one job of 100,000 × 1 KiB into file storage',
    () => scenario('wide-file', 'file', n(100_000), 1024),
    3_600_000,
  );

  it.runIf(only('ingest'))(
    'ingest: POST /jobs of 10-resource manifests at rising rates',
    async () => {
      // Accept-only: a task queue no worker polls, so nothing is downloaded; the API process and
      // Temporal do all the work an accept takes (validation, staging, workflow start). The load
      // generator is this process.
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-bench-'));
      const api = await startApiProcess({
        ...stackEnv('file', dataDir, `bench-ingest-${randomUUID()}`),
        FETCHBOX_API_PORT: String(await freePort()),
      });
      const agent = new Agent({ connections: 256 });
      try {
        // Warm-up, not measured: the API's JIT and connections, as in a process that has been up.
        for (let i = 0; i < 100; i++) {
          const body = JSON.stringify({ jobId: uniqueJobId('ingest-warm'), resources: [{ url: `https://example.test/warm/${i}` }] });
          const res = await request(`${api.url}/jobs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            dispatcher: agent,
          });
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
            const body = JSON.stringify({
              jobId: uniqueJobId(`ingest-${rate}`),
              resources: Array.from({ length: 10 }, (_, k) => ({ url: `https://example.test/${i}/${k}` })),
            });
            inflight.push(
              (async () => {
                const t = performance.now();
                const res = await request(`${api.url}/jobs`, {
                  method: 'POST',
                  headers: { 'content-type': 'application/json' },
                  body,
                  dispatcher: agent,
                });
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
            topology: 'ingest',
            plainSeconds: 0,
            vsPlain: 0,
            workerIdleRssMiB: 0,
            workerPeakRssMiB: 0,
            notes: `accept latency p50 ${p(0.5).toFixed(1)} ms, p99 ${p(0.99).toFixed(1)} ms (API RSS ${api.peakRssMiB().toFixed(0)} MiB)`,
          });
        }
      } finally {
        await agent.close();
        await api.stop();
        await rm(dataDir, { recursive: true, force: true });
      }
    },
    600_000,
  );
});
