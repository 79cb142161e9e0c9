import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectCluster, waitForSearchAttributes } from './support/cluster-client.js';
import { clusterEnv, startFetchBox, type FetchBoxProcess } from './support/fetchbox-process.js';
import { clusterServerPids, cpuSeconds, jobSummary } from './support/job-checks.js';
import { waitUntil } from './support/processes.js';
import { startRecordingOrigin, type RecordingOrigin } from './support/recording-origin.js';

const cluster = inject('cluster');
// CLUSTER_SIZING=1: the measurement of docs/deployment.md, "Sizing" (5,000 × 4 KiB with 1, 2 and
// 3 workers). By default one small run checks that the measurement works.
const FULL = process.env.CLUSTER_SIZING === '1';
const WORKER_COUNTS = FULL ? [1, 2, 3] : [2];
const TOTAL = FULL ? 5_000 : 1_000;
const SIZE = 4_096;

interface Measured {
  workers: number;
  seconds: number;
  perSecond: number;
  /** CPU seconds per 1,000 resources, by process kind. */
  cpu: Record<'workers' | 'api' | 'temporal' | 'postgres' | 'minio', number>;
}

describe(`sizing: ${TOTAL} resources of 4 KiB with ${WORKER_COUNTS.join(', ')} worker(s)`, () => {
  let origin: RecordingOrigin;
  const results: Measured[] = [];

  beforeAll(async () => {
    origin = await startRecordingOrigin();
  });
  afterAll(async () => {
    await origin?.close();
  });

  async function run(jobId: string, api: FetchBoxProcess, total: number): Promise<void> {
    const resources = Array.from({ length: total }, (_, i) => ({ url: `${origin.url}/${SIZE}/${jobId}-${i}`, id: `r${i}` }));
    const submitted = await fetch(`${api.url}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobId, resources }),
    });
    expect(submitted.status, await submitted.text()).toBe(202);
    await waitUntil(`job ${jobId} completed`, async () => (await jobSummary(api.url!, jobId))?.status === 'completed', 600_000);
    expect(await jobSummary(api.url!, jobId)).toMatchObject({ resources: { total, succeeded: total, failed: 0 }, bytes: total * SIZE });
  }

  it.each(WORKER_COUNTS)('%i worker process(es): resources/s and CPU seconds per 1,000 resources', async (n) => {
    const taskQueue = `sizing-${n}-${randomUUID().slice(0, 8)}`;
    const env = clusterEnv(cluster, taskQueue);
    const [api, ...workers] = await Promise.all([
      startFetchBox('api', env),
      ...Array.from({ length: n }, () => startFetchBox('worker', env)),
    ]);
    try {
      const connection = await connectCluster(cluster);
      await waitForSearchAttributes(connection, cluster.namespace);
      await connection.close();
      await run(`warmup-${taskQueue}`, api!, 200);

      const servers = await clusterServerPids(cluster);
      expect(servers.temporal, 'temporal-server found in /proc').toBeDefined();
      const sample = async () => ({
        workers: (await Promise.all(workers.map((w) => cpuSeconds(w.process.child.pid!)))).reduce((a, b) => a + b, 0),
        api: await cpuSeconds(api!.process.child.pid!),
        temporal: servers.temporal ? await cpuSeconds(servers.temporal) : 0,
        postgres: servers.postgres ? await cpuSeconds(servers.postgres) : 0,
        minio: servers.minio ? await cpuSeconds(servers.minio) : 0,
      });
      const before = await sample();
      const started = Date.now();
      await run(`sizing-${taskQueue}`, api!, TOTAL);
      const seconds = (Date.now() - started) / 1_000;
      const after = await sample();
      const per1k = (k: keyof typeof before) => Math.round(((after[k] - before[k]) / TOTAL) * 1_000 * 100) / 100;
      const measured: Measured = {
        workers: n,
        seconds,
        perSecond: Math.round(TOTAL / seconds),
        cpu: {
          workers: per1k('workers'),
          api: per1k('api'),
          temporal: per1k('temporal'),
          postgres: per1k('postgres'),
          minio: per1k('minio'),
        },
      };
      results.push(measured);
      const { cpu } = measured;
      const sum = Math.round((cpu.workers + cpu.api + cpu.temporal + cpu.postgres + cpu.minio) * 100) / 100;
      process.stderr.write(
        `[cluster] sizing | ${n} | ${TOTAL} × 4 KiB | ${seconds.toFixed(1)} s | ${measured.perSecond} | ${cpu.workers} | ${cpu.api} | ${cpu.temporal} | ${cpu.postgres} | ${cpu.minio} | ${sum} |\n`,
      );
      // Sanity only: the numbers are for the table, not a performance gate.
      expect(measured.perSecond).toBeGreaterThan(5);
      expect(cpu.workers).toBeGreaterThan(0);
      expect(cpu.temporal).toBeGreaterThan(0);
    } finally {
      await Promise.all([api!.stop(), ...workers.map((w) => w.stop())]);
    }
  });
});
