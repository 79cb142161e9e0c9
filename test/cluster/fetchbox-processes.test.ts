import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Client, type Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { S3Storage } from '../../src/storage/s3-storage.js';
import { clusterStorage } from './support/job-checks.js';
import { SearchAttributes } from '../../src/model/search-attributes.js';
import { readBack } from '../support/objects.js';
import { contentSha256, startOrigin, type Origin } from '../support/origin.js';
import { clusterEnv, startFetchBox, type FetchBoxProcess } from './support/fetchbox-process.js';
import { connectCluster, waitForSearchAttributes } from './support/cluster-client.js';

const cluster = inject('cluster');
const execFileAsync = promisify(execFile);

async function getJson(url: string): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe('fetchbox worker and api processes on the cluster (mTLS, SQL visibility, S3 on MinIO)', () => {
  const taskQueue = `cluster-${randomUUID().slice(0, 8)}`;
  let origin: Origin;
  let connection: Connection;
  let worker: FetchBoxProcess;
  let api: FetchBoxProcess;
  let api2: FetchBoxProcess;
  let storage: S3Storage;
  let attributesBefore: string[];

  beforeAll(async () => {
    connection = await connectCluster(cluster);
    attributesBefore = Object.keys(
      (await connection.operatorService.listSearchAttributes({ namespace: cluster.namespace })).customAttributes ?? {},
    );
    origin = await startOrigin();
    const env = clusterEnv(cluster, taskQueue);
    worker = await startFetchBox('worker', env);
    [api, api2] = await Promise.all([startFetchBox('api', env), startFetchBox('api', env)]);
    // The frontend sees new search attributes a moment after the worker registered them (cluster-client.ts).
    const waited = await waitForSearchAttributes(connection, cluster.namespace);
    process.stderr.write(`[cluster] search attributes usable ${waited} ms after the worker and API were up\n`);
    storage = clusterStorage(cluster, taskQueue);
  });
  afterAll(async () => {
    await Promise.all([worker?.stop(), api?.stop(), api2?.stop()]);
    await storage?.close();
    await origin?.close();
    await connection?.close();
  });

  it("fetchbox worker registers FetchBox's search attributes on SQL visibility itself", async () => {
    const listed = await connection.operatorService.listSearchAttributes({ namespace: cluster.namespace });
    for (const key of Object.values(SearchAttributes)) expect(Object.keys(listed.customAttributes ?? {})).toContain(key.name);
    const logs = await worker.logs();
    expect(logs.find((l) => l.msg === 'worker running')).toMatchObject({ temporal: { address: cluster.temporalAddress, tls: 'mtls' } });
    expect(logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('could not check or register search attributes'))).toBe(false);
    if (!attributesBefore.includes(SearchAttributes.status.name)) {
      expect(logs.find((l) => l.msg === 'registered FetchBox search attributes')).toMatchObject({ namespace: cluster.namespace });
    }
  });

  it('a 200-resource job submitted to the API completes byte-exact in MinIO and is listed by GET /jobs?status=completed', async () => {
    const jobId = `cluster-first-${randomUUID().slice(0, 8)}`;
    const sizes = Array.from({ length: 200 }, (_, i) => (i * 7919) % 200_000);
    const resources = sizes.map((size, i) => ({ url: `${origin.url}/bytes/${size}/${jobId}-${i}`, id: `r${i}` }));
    const res = await fetch(`${api.url}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobId, resources }),
    });
    const answer = await res.text();
    expect(
      res.status,
      `${answer}\n${(await api.logs())
        .slice(-5)
        .map((l) => JSON.stringify(l))
        .join('\n')}`,
    ).toBe(202);

    await expect
      .poll(async () => (await getJson(`${api.url}/jobs/${jobId}`)).body.status, { timeout: 300_000, interval: 1_000 })
      .toBe('completed');
    const summary = (await getJson(`${api.url}/jobs/${jobId}`)).body;
    expect(summary).toMatchObject({
      jobId,
      resources: { total: 200, succeeded: 200, failed: 0, pending: 0 },
      bytes: sizes.reduce((a, b) => a + b, 0),
    });

    let cursor: string | null = null;
    const states: Record<string, any>[] = [];
    do {
      const page = (await getJson(`${api.url}/jobs/${jobId}/resources?limit=1000${cursor ? `&cursor=${cursor}` : ''}`)).body;
      states.push(...(page.items as Record<string, any>[]));
      cursor = page.nextCursor as string | null;
    } while (cursor);
    expect(states).toHaveLength(200);
    for (const state of states) {
      const i = Number(String(state.id).slice(1));
      const expected = contentSha256(`${jobId}-${i}`, sizes[i]!);
      expect(state).toMatchObject({ status: 'succeeded', bytes: sizes[i], sha256: expected });
      expect(await readBack(storage, state.key as string)).toEqual({ sha256: expected, bytes: sizes[i] });
    }
    for (let i = 0; i < 200; i++) expect(origin.hits.get(`/bytes/${sizes[i]}/${jobId}-${i}`)).toBe(1);

    // SQL visibility is eventually consistent: the close shows in the list within seconds.
    await expect
      .poll(
        async () =>
          ((await getJson(`${api.url}/jobs?status=completed&limit=1000`)).body.items as Record<string, any>[]).map((j) => j.jobId),
        { timeout: 60_000, interval: 500 },
      )
      .toContain(jobId);
    const listed = ((await getJson(`${api.url}/jobs?status=completed&limit=1000`)).body.items as Record<string, any>[]).find(
      (j) => j.jobId === jobId,
    );
    expect(listed).toMatchObject({ jobId, status: 'completed', handler: 'default' });

    // What an operator types: `temporal workflow list --query` on the search attributes, over mTLS.
    const { stdout } = await execFileAsync(cluster.temporalCli, [
      'workflow',
      'list',
      '--namespace',
      cluster.namespace,
      '--output',
      'json',
      '--query',
      `${SearchAttributes.status.name} = "completed" AND ${SearchAttributes.total.name} = 200`,
      ...cluster.temporalCliArgs,
      '--disable-config-env',
      '--disable-config-file',
    ]);
    const ids = (JSON.parse(stdout) as { execution?: { workflowId?: string } }[]).map((w) => w.execution?.workflowId);
    expect(ids).toContain(`job-${jobId}`);
  });

  it('the same jobId POSTed 50 times at once to two API processes gives one workflow: one 202, the rest 200', async () => {
    const jobId = `cluster-race-${randomUUID().slice(0, 8)}`;
    const manifest = JSON.stringify({
      jobId,
      resources: Array.from({ length: 20 }, (_, i) => ({ url: `${origin.url}/bytes/1000/${jobId}-${i}`, id: `r${i}` })),
    });
    const answers = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const res = await fetch(`${(i % 2 === 0 ? api : api2).url}/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: manifest,
        });
        return { status: res.status, body: await res.text() };
      }),
    );
    const statuses = answers.map((a) => a.status);
    expect(
      statuses.filter((s) => s === 202),
      JSON.stringify(answers.filter((a) => a.status !== 200 && a.status !== 202)),
    ).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(49);

    await expect
      .poll(async () => (await getJson(`${api2.url}/jobs/${jobId}`)).body.status, { timeout: 120_000, interval: 500 })
      .toBe('completed');
    const client = new Client({ connection, namespace: cluster.namespace });
    let runs = 0;
    for await (const _ of client.workflow.list({ query: `WorkflowId = "job-${jobId}"` })) runs++;
    expect(runs).toBe(1);
    for (let i = 0; i < 20; i++) expect(origin.hits.get(`/bytes/1000/${jobId}-${i}`)).toBe(1);
  });
});
