import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { S3Storage } from '../../src/storage/s3-storage.js';
import { clusterStorage } from './support/job-checks.js';
import { readBack } from '../support/objects.js';
import { contentSha256, startOrigin, type Origin } from '../support/origin.js';
import { connectCluster, waitForSearchAttributes } from './support/cluster-client.js';
import { clusterControl } from './support/control-client.js';
import { clusterEnv, startFetchBox, type FetchBoxProcess } from './support/fetchbox-process.js';
import { waitUntil } from './support/processes.js';

const cluster = inject('cluster');

async function jobSummary(apiUrl: string, jobId: string): Promise<Record<string, any> | undefined> {
  const res = await fetch(`${apiUrl}/jobs/${jobId}`).catch(() => undefined);
  return res?.ok ? ((await res.json()) as Record<string, any>) : undefined;
}

describe('the Temporal server is killed and restarted mid-job', () => {
  const taskQueue = `restart-${randomUUID().slice(0, 8)}`;
  let origin: Origin;
  let worker: FetchBoxProcess;
  let api: FetchBoxProcess;
  let storage: S3Storage;

  beforeAll(async () => {
    origin = await startOrigin();
    const env = clusterEnv(cluster, taskQueue);
    worker = await startFetchBox('worker', env);
    api = await startFetchBox('api', env);
    const connection = await connectCluster(cluster);
    await waitForSearchAttributes(connection, cluster.namespace);
    await connection.close();
    storage = clusterStorage(cluster, taskQueue);
  });
  afterAll(async () => {
    await Promise.all([worker?.stop(), api?.stop()]);
    await storage?.close();
    await origin?.close();
  });

  it('SIGKILL of temporal-server while 1,000 resources download: after a restart the job completes byte-exact', async () => {
    const jobId = `restart-${randomUUID().slice(0, 8)}`;
    const total = 1_000;
    const resources = Array.from({ length: total }, (_, i) => ({ url: `${origin.url}/slow/20/4000/${jobId}-${i}`, id: `r${i}` }));
    const submitted = await fetch(`${api.url}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobId, resources }),
    });
    expect(submitted.status).toBe(202);
    const fetched = () => [...origin.hits.keys()].filter((k) => k.includes(jobId)).length;
    await waitUntil('downloads under way', async () => fetched() >= 150, 120_000);

    const killedAt = Date.now();
    await clusterControl('temporal/kill');
    const atKill = fetched();
    await new Promise((r) => setTimeout(r, 3_000));
    await clusterControl('temporal/start');
    const restartedIn = Date.now() - killedAt;
    expect(atKill).toBeLessThan(total);

    await waitUntil('job completed after the restart', async () => (await jobSummary(api.url!, jobId))?.status === 'completed', 600_000);
    const summary = await jobSummary(api.url!, jobId);
    expect(summary).toMatchObject({
      jobId,
      status: 'completed',
      resources: { total, succeeded: total, failed: 0, pending: 0 },
      bytes: total * 4000,
    });

    const states: Record<string, any>[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (
        await fetch(`${api.url}/jobs/${jobId}/resources?limit=1000${cursor ? `&cursor=${cursor}` : ''}`)
      ).json()) as Record<string, any>;
      states.push(...(page.items as Record<string, any>[]));
      cursor = page.nextCursor as string | null;
    } while (cursor);
    expect(states).toHaveLength(total);
    const expected = new Map(Array.from({ length: total }, (_, i) => [`r${i}`, contentSha256(`${jobId}-${i}`, 4000)]));
    for (const state of states) {
      expect(state).toMatchObject({ status: 'succeeded', bytes: 4000, sha256: expected.get(state.id as string) });
      expect(await readBack(storage, state.key as string)).toEqual({ sha256: expected.get(state.id as string), bytes: 4000 });
    }
    const hits = [...origin.hits.entries()].filter(([k]) => k.includes(jobId));
    const refetched = hits.filter(([, n]) => n > 1).length;
    process.stderr.write(
      `[cluster] temporal-server killed after ${atKill}/${total} fetched, back in ${restartedIn} ms; ${refetched} resources fetched more than once\n`,
    );
    expect(hits).toHaveLength(total);
  });
});
