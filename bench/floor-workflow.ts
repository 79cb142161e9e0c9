import { proxyActivities } from '@temporalio/workflow';

// The floor of the `many-small` bench scenario: the cheapest useful workflow on the same Temporal
// server and worker settings as FetchBox (one workflow, one activity that does nothing). Bundled
// by bench/floor-worker.mjs at start, as `fetchbox dev` bundles its own workflows.

/** The floor worker's one activity: returns at once, so a workflow costs only Temporal's round trips. */
export interface FloorActivities {
  noop(): Promise<void>;
}

const { noop } = proxyActivities<FloorActivities>({ startToCloseTimeout: '1 minute' });

/** One workflow task to schedule the activity, the activity, one workflow task to complete. */
export async function floorWorkflow(): Promise<void> {
  await noop();
}
