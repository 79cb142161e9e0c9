import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectCluster, waitForSearchAttributes } from './support/cluster-client.js';
import { clusterEnv, startFetchBox, type FetchBoxProcess } from './support/fetchbox-process.js';
import { jobSummary } from './support/job-checks.js';
import { waitUntil } from './support/processes.js';
import { startRecordingOrigin, type RecordingOrigin } from './support/recording-origin.js';

const cluster = inject('cluster');
const PER_HOST = 2;
const PER_ORIGIN = 60;

describe('per-host limit of a job across three worker processes', () => {
  const taskQueue = `polite-${randomUUID().slice(0, 8)}`;
  const workers: FetchBoxProcess[] = [];
  let origins: RecordingOrigin[];
  let api: FetchBoxProcess;

  beforeAll(async () => {
    // Two hosts (two ports on loopback), each answering after 100 ms and measuring its peak.
    origins = await Promise.all([startRecordingOrigin(100), startRecordingOrigin(100)]);
    // The per-host limit is part of the job's policy, fixed by the API when the job is submitted.
    const apiEnv = clusterEnv(cluster, taskQueue, {
      FETCHBOX_JOB_PER_HOST_CONCURRENCY: String(PER_HOST),
      FETCHBOX_JOB_PAGE_SIZE: '20',
      FETCHBOX_JOB_PAGE_PARALLELISM: '2',
      FETCHBOX_JOB_CONCURRENCY: '16',
    });
    const started = await Promise.all([
      startFetchBox('api', apiEnv),
      ...[1, 2, 3].map((n) => startFetchBox('worker', clusterEnv(cluster, taskQueue, { FETCHBOX_FETCH_USER_AGENT: `worker-${n}` }))),
    ]);
    api = started[0]!;
    workers.push(...started.slice(1));
    const connection = await connectCluster(cluster);
    await waitForSearchAttributes(connection, cluster.namespace);
    await connection.close();
  });
  afterAll(async () => {
    await Promise.all([api?.stop(), ...workers.map((w) => w.stop())]);
    await Promise.all(origins?.map((o) => o.close()) ?? []);
  });

  it(`FETCHBOX_JOB_PER_HOST_CONCURRENCY=${PER_HOST} over 6 pages: each host sees at most ${PER_HOST} requests at once, from several workers`, async () => {
    const jobId = `polite-${randomUUID().slice(0, 8)}`;
    const resources = Array.from({ length: PER_ORIGIN * origins.length }, (_, i) => ({
      url: `${origins[i % origins.length]!.url}/16/${jobId}-${i}`,
      id: `r${i}`,
    }));
    const submitted = await fetch(`${api.url}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobId, resources }),
    });
    expect(submitted.status, await submitted.text()).toBe(202);
    const started = Date.now();
    await waitUntil('job completed', async () => (await jobSummary(api.url!, jobId))?.status === 'completed', 300_000);
    expect(await jobSummary(api.url!, jobId)).toMatchObject({
      resources: { total: resources.length, succeeded: resources.length, failed: 0 },
    });

    const agents = new Set<string>();
    for (const origin of origins) {
      expect(origin.total()).toBe(PER_ORIGIN);
      expect(origin.peak).toBe(PER_HOST);
      for (const list of origin.requests.values()) for (const a of list) agents.add(a);
    }
    process.stderr.write(
      `[cluster] politeness: ${resources.length} resources on 2 hosts in ${Date.now() - started} ms, peaks ${origins.map((o) => o.peak).join(', ')}, workers ${[...agents].sort().join(', ')}\n`,
    );
    expect(agents.size, 'the downloads ran on more than one worker process').toBeGreaterThanOrEqual(2);
  });
});
