import type { Config } from '../config/config-schema.js';
import { jobWorkflowId } from '../model/ids.js';
import { JOB_ID_CHARS } from './schemas.js';

/**
 * A job's own URL path, `/jobs/<jobId>`, as the contract writes `links.self` and `Location`. A jobId
 * is 1-128 of `A-Z a-z 0-9 . _ : -` (never only dots), all characters a path segment may carry as
 * they are, so the id is not percent-encoded (`/jobs/a:b`, not `/jobs/a%3Ab`); anything else is.
 */
export function jobPath(jobId: string): string {
  return `/jobs/${JOB_ID_CHARS.test(jobId) && !/^\.+$/.test(jobId) ? jobId : encodeURIComponent(jobId)}`;
}

/** The Temporal Web UI page of a job's workflow (`links.temporalUi`): the API's answers and a job's webhook say the same. */
export function temporalUiUrlOf(temporal: Pick<Config['temporal'], 'uiUrl' | 'namespace'>, jobId: string): string {
  return `${temporal.uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(temporal.namespace)}/workflows/${encodeURIComponent(jobWorkflowId(jobId))}`;
}

/**
 * The `links` every answer about a job carries (`self`, `temporalUi`): the routes of every room
 * build them here, from the service's Temporal UI address.
 */
export function jobLinks(jobs: { temporalUiUrl(jobId: string): string }, jobId: string): { self: string; temporalUi: string } {
  return { self: jobPath(jobId), temporalUi: jobs.temporalUiUrl(jobId) };
}
