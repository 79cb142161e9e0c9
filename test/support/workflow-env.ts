import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { inject } from 'vitest';
import { SearchAttributes } from '../../src/model/search-attributes.js';

/** A workflow test environment with one worker running on it; `close` stops both. */
export interface WorkflowEnv {
  env: TestWorkflowEnvironment;
  worker: Worker;
  close(): Promise<void>;
}

/**
 * Starts `TestWorkflowEnvironment.createLocal()` on the project's own temporal CLI (the binary the
 * run's dev server uses, so nothing is downloaded and no Java is needed), with FetchBox's search
 * attributes declared, and runs a worker on `taskQueue` with the run's shared workflow bundle.
 * Workflow unit tests use it to get a server of their own, away from the integration stacks.
 */
export async function startWorkflowEnv(
  taskQueue: string,
  worker: Omit<WorkerOptions, 'connection' | 'taskQueue' | 'workflowBundle' | 'workflowsPath'> = {},
): Promise<WorkflowEnv> {
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: inject('temporalCli') },
      searchAttributes: Object.values(SearchAttributes),
      log: { format: 'pretty', level: 'error' },
    },
  });
  try {
    const w = await Worker.create({
      ...worker,
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
    });
    const running = w.run();
    return {
      env,
      worker: w,
      async close() {
        if (w.getState() === 'RUNNING') w.shutdown();
        await running.catch(() => undefined);
        await env.teardown();
      },
    };
  } catch (err) {
    await env.teardown();
    throw err;
  }
}
