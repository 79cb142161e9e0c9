// The floor worker of the `many-small` bench scenario, in a process of its own as FetchBox's
// worker is: it registers bench/floor-workflow.ts (bundled at start) and a no-op activity, with
// the activity slots and pollers FetchBox's worker takes from the same FETCHBOX_WORKER_* settings
// (config loaded from dist/, so `npm run build` first, as `npm run bench` does). Polls
// BENCH_FLOOR_TASK_QUEUE on TEMPORAL_ADDRESS; prints `floor worker running` once it polls; stops on
// SIGTERM.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { loadConfig } from '../dist/config/load-config.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const config = loadConfig(process.env);
const taskQueue = process.env.BENCH_FLOOR_TASK_QUEUE;
if (!taskQueue) throw new Error('BENCH_FLOOR_TASK_QUEUE is not set');

// As FetchBox's runtime: no signal handlers of the SDK's own, core logs at WARN.
Runtime.install({ shutdownSignals: [] });
const connection = await NativeConnection.connect({ address: config.temporal.address });
const worker = await Worker.create({
  connection,
  namespace: config.temporal.namespace,
  taskQueue,
  workflowsPath: path.join(here, 'floor-workflow.ts'),
  activities: { noop: async () => {} },
  maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
  maxConcurrentActivityTaskPolls: config.worker.activityPollers,
  maxConcurrentWorkflowTaskPolls: config.worker.workflowPollers,
});
process.once('SIGTERM', () => worker.shutdown());
const running = worker.run();
// Worker.run() polls from its first tick; the bench waits for this line before it submits.
process.stdout.write('floor worker running\n');
await running;
await connection.close();
