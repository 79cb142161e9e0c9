import { randomUUID } from 'node:crypto';
import { WorkflowUpdateStage, type Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { COORDINATOR_MAX_HISTORY, hostCoordinatorWorkflow } from '../../src/workflows/host-coordinator-workflow.js';
import { hostLeaseUpdate } from '../../src/model/messages.js';
import { leaseRequests } from '../support/lease-requests.js';
import { startWorkflowEnv, type WorkflowEnv } from '../support/workflow-env.js';

// Workflow unit tests of the host coordinator (politeness across jobs and workers) on a local
// Temporal dev server of their own (TestWorkflowEnvironment.createLocal): lease expiry with short
// real leases, a request held open until a permit comes free, continue-as-new with the leases
// carried over.

const taskQueue = `host-coordinator-${randomUUID()}`;
let local: WorkflowEnv;
let client: Client;

beforeAll(async () => {
  local = await startWorkflowEnv(taskQueue);
  client = local.env.client;
}, 120_000);
afterAll(async () => {
  await local?.close();
});

const req = leaseRequests(30_000);

async function start(host: string, maxHistory?: number) {
  return client.workflow.start(hostCoordinatorWorkflow, {
    taskQueue,
    workflowId: `host-${host}-${randomUUID()}`,
    args: [{ host, ...(maxHistory !== undefined ? { maxHistory } : {}) }],
  });
}

describe('host coordinator workflow', () => {
  it("grants at most the limit, and gives a dead worker's permits to another once its lease expires", async () => {
    const handle = await start('expiry.test');
    const short = { leaseMs: 3_000 };
    expect(await handle.executeUpdate(hostLeaseUpdate, { args: [req('dead', 2, 0, short)] })).toMatchObject({ granted: 2 });
    // No permit is free: this request is held open (a third of its lease at most) and answers 0.
    expect(await handle.executeUpdate(hostLeaseUpdate, { args: [req('live', 2, 0, short)] })).toMatchObject({ granted: 0 });
    // The dead worker's lease runs out without a renewal (3 s of real time): then live gets both.
    await vi.waitFor(
      async () => expect(await handle.executeUpdate(hostLeaseUpdate, { args: [req('live', 2, 0, short)] })).toMatchObject({ granted: 2 }),
      { timeout: 15_000, interval: 100 },
    );
  });

  it('holds a waiting request open until another worker reports a permit free', async () => {
    const handle = await start('wait.test');
    await handle.executeUpdate(hostLeaseUpdate, { args: [req('a', 2)] });
    const waiting = await handle.startUpdate(hostLeaseUpdate, { args: [req('b', 1)], waitForStage: WorkflowUpdateStage.ACCEPTED });
    // a renews: b has waited longest, so a's share falls to 1; a reports it is down to 1 in use.
    expect(await handle.executeUpdate(hostLeaseUpdate, { args: [req('a', 2, 2)] })).toMatchObject({ granted: 1 });
    // a is down to one download in use; b's held request is answered as soon as the report is in.
    const report = await handle.startUpdate(hostLeaseUpdate, { args: [req('a', 1, 1)], waitForStage: WorkflowUpdateStage.ACCEPTED });
    expect(await waiting.result()).toMatchObject({ granted: 1 });
    expect(await report.result()).toMatchObject({ granted: 1 });
  });

  it('carries a Retry-After pause to every worker', async () => {
    const handle = await start('pause.test');
    const until = Date.now() + 3_600_000;
    await handle.executeUpdate(hostLeaseUpdate, { args: [req('a', 1, 0, { pauseUntil: until })] });
    expect(await handle.executeUpdate(hostLeaseUpdate, { args: [req('b', 1)] })).toMatchObject({ pausedUntil: until });
  });

  it('continues as new past its history bound, keeping the leases, and closes once idle', async () => {
    expect(COORDINATOR_MAX_HISTORY).toBe(2_000);
    const handle = await client.workflow.start(hostCoordinatorWorkflow, {
      taskQueue,
      workflowId: `host-long.test-${randomUUID()}`,
      args: [{ host: 'long.test', maxHistory: 50 }],
    });
    const short = { leaseMs: 2_000 };
    await handle.executeUpdate(hostLeaseUpdate, { args: [req('keeper', 1, 0, short)] });
    for (let i = 0; i < 15; i++) await handle.executeUpdate(hostLeaseUpdate, { args: [req('busy', 1, 1, short)] });
    const first = await client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).describe();
    expect(first.status.name).toBe('CONTINUED_AS_NEW');
    // The new run still counts keeper's permit: busy gets only the other one.
    const latest = client.workflow.getHandle(handle.workflowId);
    expect(await latest.executeUpdate(hostLeaseUpdate, { args: [req('busy', 1, 1, short)] })).toMatchObject({ granted: 1 });
    expect(await latest.executeUpdate(hostLeaseUpdate, { args: [req('busy2', 1, 0, short)] })).toMatchObject({ granted: 0 });
    // Everyone returns the permits; after a lease time idle, the coordinator completes.
    for (const id of ['keeper', 'busy', 'busy2']) await latest.executeUpdate(hostLeaseUpdate, { args: [req(id, 0, 0, short)] });
    await latest.result();
  }, 120_000);
});
