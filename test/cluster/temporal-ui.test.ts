import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SearchAttributes } from '../../src/model/search-attributes.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { connectCluster, waitForSearchAttributes } from './support/cluster-client.js';
import { clusterEnv, startFetchBox, type FetchBoxProcess } from './support/fetchbox-process.js';
import { jobSummary } from './support/job-checks.js';
import { waitUntil } from './support/processes.js';
import { startTemporalUi, type RunningTemporalUi } from './support/temporal-ui.js';

const cluster = inject('cluster');

/** The types the UI shows for FetchBox's attributes (IndexedValueType as the UI's JSON names it). */
const EXPECTED_TYPES = {
  [SearchAttributes.handler.name]: 'INDEXED_VALUE_TYPE_KEYWORD',
  [SearchAttributes.status.name]: 'INDEXED_VALUE_TYPE_KEYWORD',
  [SearchAttributes.total.name]: 'INDEXED_VALUE_TYPE_INT',
  [SearchAttributes.succeeded.name]: 'INDEXED_VALUE_TYPE_INT',
  [SearchAttributes.failed.name]: 'INDEXED_VALUE_TYPE_INT',
  [SearchAttributes.bytes.name]: 'INDEXED_VALUE_TYPE_DOUBLE',
} as const;

/** A search attribute value of the UI's JSON: shorthand, or a payload with base64 JSON data. */
function attributeValue(field: unknown): unknown {
  if (field && typeof field === 'object' && 'data' in field)
    return JSON.parse(Buffer.from(String((field as { data: unknown }).data), 'base64').toString('utf8'));
  return field;
}

async function uiGet(ui: RunningTemporalUi, route: string): Promise<Record<string, any>> {
  const res = await fetch(`${ui.url}${route}`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${route}: ${res.status} ${text}\n${await ui.process.logTail(10)}`);
  return JSON.parse(text) as Record<string, any>;
}

describe('the Temporal Web UI server (the version the CLI embeds) on the SQL-visibility cluster', () => {
  const taskQueue = `ui-${randomUUID().slice(0, 8)}`;
  let origin: Origin;
  let worker: FetchBoxProcess;
  let api: FetchBoxProcess;
  let ui: RunningTemporalUi;

  beforeAll(async () => {
    origin = await startOrigin();
    const env = clusterEnv(cluster, taskQueue);
    [worker, api, ui] = await Promise.all([startFetchBox('worker', env), startFetchBox('api', env), startTemporalUi(cluster)]);
    const connection = await connectCluster(cluster);
    await waitForSearchAttributes(connection, cluster.namespace);
    await connection.close();
    process.stderr.write(`[cluster] temporal-ui-server ${ui.url} reached the frontend ${ui.readyMs} ms after it was spawned\n`);
  });
  afterAll(async () => {
    await Promise.all([worker?.stop(), api?.stop(), ui?.stop()]);
    await origin?.close();
  });

  it("lists FetchBox's search attributes with their types and filters a completed job by them", async () => {
    const { customAttributes } = await uiGet(ui, `/api/v1/namespaces/${cluster.namespace}/search-attributes`);
    expect(customAttributes).toMatchObject(EXPECTED_TYPES);

    const jobId = `ui-${randomUUID().slice(0, 8)}`;
    const resources = Array.from({ length: 5 }, (_, i) => ({ url: `${origin.url}/bytes/100/${jobId}-${i}`, id: `r${i}` }));
    const submitted = await fetch(`${api.url}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobId, resources }),
    });
    expect(submitted.status, await submitted.text()).toBe(202);
    await waitUntil('job completed', async () => (await jobSummary(api.url!, jobId))?.status === 'completed', 60_000);

    // The query the UI's filter bar sends; SQL visibility shows the close within seconds.
    const query = `${SearchAttributes.status.name}="completed" AND ${SearchAttributes.total.name}=5 AND WorkflowId="job-${jobId}"`;
    const route = `/api/v1/namespaces/${cluster.namespace}/workflows?query=${encodeURIComponent(query)}`;
    const started = Date.now();
    let executions: Record<string, any>[] = [];
    await waitUntil(
      'the UI lists the completed job',
      async () => (executions = ((await uiGet(ui, route)).executions ?? []) as Record<string, any>[]).length > 0,
      30_000,
    );
    process.stderr.write(
      `[cluster] temporal-ui: the completed job listed by the UI ${Date.now() - started} ms after the API said completed\n`,
    );
    expect(executions).toHaveLength(1);
    const [execution] = executions;
    expect(execution).toMatchObject({ execution: { workflowId: `job-${jobId}` }, status: 'WORKFLOW_EXECUTION_STATUS_COMPLETED' });
    const fields = (execution!.searchAttributes?.indexedFields ?? {}) as Record<string, unknown>;
    expect(attributeValue(fields[SearchAttributes.status.name])).toBe('completed');
    expect(attributeValue(fields[SearchAttributes.handler.name])).toBe('default');
    expect(attributeValue(fields[SearchAttributes.total.name])).toBe(5);
    expect(attributeValue(fields[SearchAttributes.succeeded.name])).toBe(5);
    expect(attributeValue(fields[SearchAttributes.bytes.name])).toBe(500);

    // A filter that excludes the job: the list is empty, so the query is really applied.
    const other = `${SearchAttributes.status.name}="failed" AND WorkflowId="job-${jobId}"`;
    expect(
      (await uiGet(ui, `/api/v1/namespaces/${cluster.namespace}/workflows?query=${encodeURIComponent(other)}`)).executions ?? [],
    ).toEqual([]);
  });
});
