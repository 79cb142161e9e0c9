import { WorkflowTypes } from '../../workflows/ids.js';
import { literal, toIso } from '../visibility.js';
import type { JobContext } from './job-context.js';

/** Most runs one look-up reads: a page of 1000 jobs with a few retry runs each. */
const MAX_RUNS = 1000;

/**
 * Of the listed closed runs (`workflowId` → `runId`), the workflow ids whose listed run is no longer
 * the job's latest: a retry of a closed job starts a new run under the same id, and visibility keeps
 * listing the old one with its old status. One visibility query for the whole page; the latest run
 * of an id is the one started last (only one run is open at a time, and a retry run starts after
 * the run it retries closed). An id the query did not return (more than {@link MAX_RUNS} runs, or not
 * indexed yet) counts as current.
 */
export async function supersededRuns({ deps, temporal }: JobContext, listed: ReadonlyMap<string, string>): Promise<Set<string>> {
  if (listed.size === 0) return new Set();
  const ids = [...listed.keys()].map(literal).join(', ');
  const res = await temporal(() =>
    deps.client.workflowService.listWorkflowExecutions({
      namespace: deps.config.temporal.namespace,
      query: `WorkflowType = '${WorkflowTypes.job}' AND ExecutionStatus != 'ContinuedAsNew' AND WorkflowId IN (${ids})`,
      pageSize: MAX_RUNS,
    }),
  );
  const latest = new Map<string, { runId: string; startedAt: string }>();
  for (const info of res.executions ?? []) {
    const workflowId = info.execution?.workflowId ?? '';
    const runId = info.execution?.runId ?? '';
    const startedAt = toIso(info.startTime) ?? '';
    const known = latest.get(workflowId);
    if (runId && (!known || startedAt > known.startedAt)) latest.set(workflowId, { runId, startedAt });
  }
  const superseded = new Set<string>();
  for (const [workflowId, runId] of listed) {
    const run = latest.get(workflowId);
    if (run && run.runId !== runId) superseded.add(workflowId);
  }
  return superseded;
}
