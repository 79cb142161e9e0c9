import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection, WorkflowUpdateStage } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../src/temporal/temporal-cli.js';
import { COORDINATOR_MAX_HISTORY, hostCoordinatorWorkflow } from '../../src/workflows/host-coordinator-workflow.js';
import { hostLeaseUpdate } from '../../src/model/messages.js';
import type { HostLeaseRequest } from '../../src/model/host-types.js';

// Workflow unit tests of the host coordinator (politeness across jobs and workers) on Temporal's
// time-skipping test server: lease expiry without waiting it out, a request held open until a
// permit comes free, continue-as-new with the leases carried over.

const taskQueue = `host-coordinator-${randomUUID()}`;
let env: TestWorkflowEnvironment;
let client: Client;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  const server = execFileSync('bash', [path.join(projectRoot, 'scripts', 'test-server.sh')], { encoding: 'utf8' }).trim();
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: server } } });
  client = env.client;
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: { codePath: inject('workflowBundlePath') },
  });
  running = worker.run();
}, 300_000);
afterAll(async () => {
  worker?.shutdown();
  await running?.catch(() => undefined);
  await env?.teardown();
});

const req = (workerId: string, want: number, inUse = 0, extra: Partial<HostLeaseRequest> = {}): HostLeaseRequest => ({
  workerId,
  want,
  inUse,
  limit: 2,
  minDelayMs: 0,
  leaseMs: 30_000,
  ...extra,
});

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
    await env.sleep(3_100); // the dead worker's lease runs out without a renewal
    expect(await handle.executeUpdate(hostLeaseUpdate, { args: [req('live', 2, 0, short)] })).toMatchObject({ granted: 2 });
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

  // On the dev server: the time-skipping test server keeps no Update events in history, so its history never grows.
  it('continues as new past its history bound, keeping the leases, and closes once idle', async () => {
    expect(COORDINATOR_MAX_HISTORY).toBe(2_000);
    const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
    const clientConnection = await Connection.connect({ address: inject('temporalAddress') });
    const dev = new Client({ connection: clientConnection });
    const queue = `host-coordinator-can-${randomUUID()}`;
    const devWorker = await Worker.create({ connection, taskQueue: queue, workflowBundle: { codePath: inject('workflowBundlePath') } });
    const devRunning = devWorker.run();
    try {
      const handle = await dev.workflow.start(hostCoordinatorWorkflow, {
        taskQueue: queue,
        workflowId: `host-long.test-${randomUUID()}`,
        args: [{ host: 'long.test', maxHistory: 50 }],
      });
      const short = { leaseMs: 2_000 };
      await handle.executeUpdate(hostLeaseUpdate, { args: [req('keeper', 1, 0, short)] });
      for (let i = 0; i < 15; i++) await handle.executeUpdate(hostLeaseUpdate, { args: [req('busy', 1, 1, short)] });
      const first = await dev.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).describe();
      expect(first.status.name).toBe('CONTINUED_AS_NEW');
      // The new run still counts keeper's permit: busy gets only the other one.
      const latest = dev.workflow.getHandle(handle.workflowId);
      expect(await latest.executeUpdate(hostLeaseUpdate, { args: [req('busy', 1, 1, short)] })).toMatchObject({ granted: 1 });
      expect(await latest.executeUpdate(hostLeaseUpdate, { args: [req('busy2', 1, 0, short)] })).toMatchObject({ granted: 0 });
      // Everyone returns the permits; after a lease time idle, the coordinator completes.
      for (const id of ['keeper', 'busy', 'busy2']) await latest.executeUpdate(hostLeaseUpdate, { args: [req(id, 0, 0, short)] });
      await latest.result();
    } finally {
      devWorker.shutdown();
      await devRunning.catch(() => undefined);
      await connection.close();
      await clientConnection.close();
    }
  }, 120_000);
});
