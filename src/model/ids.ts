/**
 * Ids and storage keys derived from a jobId: deterministic string helpers, safe to import from
 * workflow code, the worker and the API alike.
 */

/**
 * The workflow type names the worker registers (the functions' names). The API starts jobs and
 * queries visibility by these names, so it never loads the workflow functions and their schedulers.
 */
export const WorkflowTypes = { job: 'jobWorkflow', page: 'pageWorkflow', hostCoordinator: 'hostCoordinatorWorkflow' } as const;

/** Storage key of page `page` of a staged manifest. */
export function pageKey(prefix: string, page: number): string {
  return `${prefix}/pages/${String(page).padStart(6, '0')}.json`;
}

/** The job workflow's id: business-meaningful, so operators find a job by its jobId. */
export function jobWorkflowId(jobId: string): string {
  return `job-${jobId}`;
}

/**
 * The id of the child workflow that runs one page in one round (0 = first pass, n = nth retry).
 * `/` cannot occur in a jobId, so these ids never collide with another job's.
 */
export function pageWorkflowId(jobId: string, page: number, round: number): string {
  const base = `${jobWorkflowId(jobId)}/p${String(page).padStart(6, '0')}`;
  return round === 0 ? base : `${base}/r${round}`;
}

/**
 * The id of a host's coordinator workflow (politeness across every job and worker): one per host,
 * so every worker's broker finds the same one. `host-` never collides with `job-` ids.
 */
export function hostCoordinatorId(host: string): string {
  return `host-${host}`;
}
