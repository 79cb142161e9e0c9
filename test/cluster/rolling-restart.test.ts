import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { S3Storage } from '../../src/storage/s3-storage.js';
import { readBack } from '../support/objects.js';
import { contentSha256 } from '../support/origin.js';
import { connectCluster, waitForSearchAttributes } from './support/cluster-client.js';
import { clusterEnv, startFetchBox, type FetchBoxProcess } from './support/fetchbox-process.js';
import { allResourceStates, clusterStorage, jobSummary, listObjectSizes } from './support/job-checks.js';
import { waitUntil } from './support/processes.js';
import { startRecordingOrigin, type RecordingOrigin } from './support/recording-origin.js';

const cluster = inject('cluster');
const TOTAL = 20_000;
const SIZE = 1_024;
const SAMPLE = 500;

describe('rolling restart of three workers during a 20,000-resource job', () => {
  const taskQueue = `rolling-${randomUUID().slice(0, 8)}`;
  const workers = new Map<string, FetchBoxProcess>();
  let origin: RecordingOrigin;
  let api: FetchBoxProcess;
  let storage: S3Storage;

  const workerEnv = (agent: string) => clusterEnv(cluster, taskQueue, { FETCHBOX_FETCH_USER_AGENT: agent });
  const startWorker = async (agent: string) => workers.set(agent, await startFetchBox('worker', workerEnv(agent)));

  beforeAll(async () => {
    origin = await startRecordingOrigin();
    // The policy is fixed by the API at submit: a 5 s heartbeat timeout lets the SIGKILLed
    // worker's batches be retried elsewhere within seconds (the default is 60 s).
    const apiEnv = clusterEnv(cluster, taskQueue, { FETCHBOX_JOB_HEARTBEAT_TIMEOUT_MS: '5000' });
    const [a] = await Promise.all([
      startFetchBox('api', apiEnv),
      startWorker('worker-killed'),
      startWorker('worker-drained'),
      startWorker('worker-steady'),
    ]);
    api = a;
    const connection = await connectCluster(cluster);
    await waitForSearchAttributes(connection, cluster.namespace);
    await connection.close();
    storage = clusterStorage(cluster, taskQueue);
  });
  afterAll(async () => {
    await Promise.all([api?.stop(), ...[...workers.values()].map((w) => w.stop())]);
    await storage?.close();
    await origin?.close();
  });

  it("SIGKILL one worker for good, SIGTERM another and start it again: the job completes byte-exact; only the killed worker's downloads are repeated", async () => {
    const started = Date.now();
    const jobId = `rolling-${randomUUID().slice(0, 8)}`;
    const resources = Array.from({ length: TOTAL }, (_, i) => ({ url: `${origin.url}/${SIZE}/${jobId}-${i}`, id: `r${i}` }));
    const submitted = await fetch(`${api.url}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobId, resources }),
    });
    expect(submitted.status, await submitted.text()).toBe(202);

    await waitUntil('3,000 downloads', async () => origin.total() >= 3_000, 180_000);
    const atKill = origin.total();
    await workers.get('worker-killed')!.stop('SIGKILL');
    await waitUntil('3,000 more downloads', async () => origin.total() >= atKill + 3_000, 180_000);
    const atTerm = origin.total();
    const draining = Date.now();
    await workers.get('worker-drained')!.stop('SIGTERM');
    const drainedIn = Date.now() - draining;
    await startWorker('worker-restarted');
    const restartedAt = origin.total();
    expect(restartedAt, 'the restart happened while the job ran').toBeLessThan(TOTAL);

    await waitUntil('job completed', async () => (await jobSummary(api.url!, jobId))?.status === 'completed', 600_000);
    const runMs = Date.now() - started;
    expect(await jobSummary(api.url!, jobId)).toMatchObject({
      status: 'completed',
      resources: { total: TOTAL, succeeded: TOTAL, failed: 0, pending: 0 },
      bytes: TOTAL * SIZE,
    });

    // Every state carries the sha256 its worker computed while streaming: compare all 20,000 with
    // the origin's content; LIST the bucket for every object's size; GET a sample back.
    const states = await allResourceStates(api.url!, jobId);
    expect(states).toHaveLength(TOTAL);
    const expected = (id: string) => contentSha256(`${jobId}-${id.slice(1)}`, SIZE);
    const wrong = states.filter((s) => s.status !== 'succeeded' || s.bytes !== SIZE || s.sha256 !== expected(s.id as string));
    expect(wrong.slice(0, 5)).toEqual([]);
    const sizes = await listObjectSizes(cluster, taskQueue);
    const missing = states.filter((s) => sizes.get(s.key as string) !== SIZE);
    expect(missing.slice(0, 5)).toEqual([]);
    for (let i = 0; i < SAMPLE; i++) {
      const state = states[Math.floor((i * TOTAL) / SAMPLE)]!;
      expect(await readBack(storage, state.key as string)).toEqual({ sha256: expected(state.id as string), bytes: SIZE });
    }

    // Who asked for what: each worker has its own User-Agent.
    const paths = [...origin.requests.entries()].filter(([p]) => p.includes(jobId));
    expect(paths).toHaveLength(TOTAL);
    const repeated = paths.filter(([, agents]) => agents.length > 1);
    const byAgent = new Map<string, number>();
    for (const [, agents] of paths) for (const a of agents) byAgent.set(a, (byAgent.get(a) ?? 0) + 1);
    process.stderr.write(
      `[cluster] rolling restart: ${TOTAL} resources in ${runMs} ms; SIGKILL at ${atKill}, SIGTERM at ${atTerm} (drained in ${drainedIn} ms), ` +
        `restarted at ${restartedAt}; requests by worker ${JSON.stringify(Object.fromEntries(byAgent))}; ${repeated.length} resources requested more than once\n`,
    );
    // A resource is requested again only when the SIGKILLed worker had it: its batch in flight is
    // retried from the last heartbeat. The drained worker finished what it had, so nothing it
    // requested was requested again.
    expect(repeated.filter(([, agents]) => agents[0] !== 'worker-killed').map(([p, agents]) => `${p} ${agents.join(',')}`)).toEqual([]);
    expect(
      paths.filter(([, agents]) => agents.includes('worker-drained') && agents.lastIndexOf('worker-drained') < agents.length - 1),
    ).toEqual([]);
    expect(byAgent.get('worker-drained')).toBeGreaterThan(0);
    expect(byAgent.get('worker-restarted')).toBeGreaterThan(0);
    expect(byAgent.get('worker-steady')).toBeGreaterThan(0);
    // Bound: at most the killed worker's share of the job's in-flight batches (16-wide window,
    // 2 pages at a time, 4 batches of 100 per page), so at most 800.
    expect(repeated.length).toBeLessThanOrEqual(800);
  });
});
