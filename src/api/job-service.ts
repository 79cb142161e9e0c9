import { createHash, randomUUID } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  isGrpcServiceError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import type { Config } from '../config/config-schema.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import type { Storage } from '../storage/storage.js';
import { StorageError } from '../storage/errors.js';
import { jobWorkflow, resourcesQuery, summaryQuery } from '../workflows/job-workflow.js';
import {
  JobStatus,
  type JobPolicy,
  type JobWorkflowInput,
  type ManifestResource,
  type ResourcesPage,
  type ResourceStatus,
  type StagedManifest,
} from '../workflows/job-types.js';
import { SearchAttributes } from '../workflows/search-attributes.js';
import { ApiError, ErrorCode } from './api-error.js';
import type { Manifest } from './schemas.js';

/** gRPC status codes the service reacts to (numeric, as @grpc/grpc-js defines them). */
const grpcStatus = { DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, UNAVAILABLE: 14 } as const;

/** The workflow id of a job: business-meaningful, so operators find it in the UI by jobId. */
export function workflowIdFor(jobId: string): string {
  return `job-${jobId}`;
}

/** How long the API waits for a live answer from a running job before using search attributes. */
const QUERY_DEADLINE_MS = 3_000;

/** JSON with object keys sorted, so the same manifest always hashes the same. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** True for errors that mean Temporal could not be reached (as opposed to a refusal). */
export function isTemporalUnavailable(err: unknown): boolean {
  if (isGrpcServiceError(err)) {
    return ([grpcStatus.UNAVAILABLE, grpcStatus.DEADLINE_EXCEEDED, grpcStatus.RESOURCE_EXHAUSTED] as number[]).includes(err.code);
  }
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (cause && isGrpcServiceError(cause)) return isTemporalUnavailable(cause);
  return err instanceof Error && /ECONNREFUSED|UNAVAILABLE|Failed to connect|connection/i.test(err.message);
}

function temporalUnavailable(err: unknown): ApiError {
  return new ApiError(503, ErrorCode.temporalUnavailable, `Temporal is unavailable; retry later (${(err as Error).message})`);
}

/** The answer to a submit: whether a new job started, and its id. */
export interface SubmitResult {
  jobId: string;
  created: boolean;
}

/** A job's summary as `GET /jobs/{jobId}` returns it (links added by the route). */
export interface JobSummary {
  jobId: string;
  handler: string;
  status: JobStatus;
  resources: { total: number; succeeded: number; failed: number; pending: number };
  bytes: number;
  startedAt: string;
  closedAt?: string;
}

/** What the job service needs. */
export interface JobServiceDeps {
  client: Client;
  storage: Storage;
  handlers: HandlerRegistry;
  config: Config;
}

/**
 * The API's view of jobs: submits manifests as workflows (idempotent by jobId, fingerprinted by
 * a manifest hash kept in the workflow memo) and reads job state back from Temporal only.
 */
export class JobService {
  constructor(private readonly deps: JobServiceDeps) {}

  /** Bounds one Temporal call so a crawler gets a prompt 503 rather than the SDK's long retries. */
  private withDeadline<T>(fn: () => Promise<T>, ms = this.deps.config.api.temporalTimeoutMs): Promise<T> {
    return this.deps.client.connection.withDeadline(Date.now() + ms, fn);
  }

  private policyFor(): JobPolicy {
    const { job, fetch } = this.deps.config;
    return {
      concurrency: job.concurrency,
      retry: { ...job.retry },
      attemptTimeoutMs: job.attemptTimeoutMs,
      heartbeatTimeoutMs: job.heartbeatTimeoutMs,
      maxBytes: fetch.maxBytes,
    };
  }

  /** Validates what zod cannot (limits, handler, unique ids) and starts the job's workflow. */
  async submit(manifest: Manifest): Promise<SubmitResult> {
    const { config, handlers, storage, client } = this.deps;
    if (!handlers.has(manifest.handler)) {
      throw new ApiError(400, ErrorCode.unknownHandler, `unknown handler ${JSON.stringify(manifest.handler)}`, {
        known: handlers.names(),
      });
    }
    const max = config.limits.maxResourcesPerJob;
    if (manifest.resources.length > max) {
      throw new ApiError(400, ErrorCode.invalidManifest, `a job may have at most ${max} resources`, [
        { path: 'resources', message: `${manifest.resources.length} resources; the limit is ${max}` },
      ]);
    }
    const seen = new Set<string>();
    const problems: { path: string; message: string }[] = [];
    const resources: ManifestResource[] = manifest.resources.map((r, i) => {
      const id = r.id ?? String(i);
      if (seen.has(id)) problems.push({ path: `resources.${i}.id`, message: `duplicate id ${JSON.stringify(id)}` });
      seen.add(id);
      return { id, url: r.url, ...(r.key !== undefined ? { key: r.key } : {}), ...(r.headers ? { headers: r.headers } : {}) };
    });
    if (problems.length > 0) throw new ApiError(400, ErrorCode.invalidManifest, 'resource ids must be unique', problems);

    const jobId = manifest.jobId ?? randomUUID();
    const hash = createHash('sha256')
      .update(canonicalJson({ handler: manifest.handler, metadata: manifest.metadata ?? null, resources }))
      .digest('hex');
    const workflowId = workflowIdFor(jobId);

    // Staged under the manifest's hash: a conflicting submit can never overwrite another's pages.
    const prefix = `${jobId}/.fetchbox/${hash.slice(0, 16)}`;
    const pageSize = config.job.pageSize;
    const pageKeys: string[] = [];
    try {
      const writes: Promise<unknown>[] = [];
      for (let start = 0, page = 0; start < resources.length; start += pageSize, page++) {
        const key = `${prefix}/pages/${String(page).padStart(6, '0')}.json`;
        pageKeys.push(key);
        writes.push(storage.putJson(key, resources.slice(start, start + pageSize)));
      }
      writes.push(
        storage.putJson(`${prefix}/manifest.json`, {
          jobId,
          handler: manifest.handler,
          metadata: manifest.metadata ?? {},
          resources: { total: resources.length, pages: pageKeys },
          manifestHash: hash,
        }),
      );
      await Promise.all(writes);
    } catch (err) {
      if (err instanceof StorageError) {
        throw new ApiError(503, ErrorCode.storageUnavailable, `storage is unavailable; retry later (${err.message})`);
      }
      throw err;
    }
    const staged: StagedManifest = { hash, manifestKey: `${prefix}/manifest.json`, pageKeys, total: resources.length };
    const input: JobWorkflowInput = {
      jobId,
      handler: manifest.handler,
      manifest: staged,
      policy: this.policyFor(),
      submittedAt: new Date().toISOString(),
    };
    try {
      await this.withDeadline(() => client.workflow.start(jobWorkflow, {
        workflowId,
        taskQueue: config.temporal.taskQueue,
        args: [input],
        memo: { manifestHash: hash },
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: [
          { key: SearchAttributes.handler, value: manifest.handler },
          { key: SearchAttributes.status, value: JobStatus.running },
          { key: SearchAttributes.total, value: resources.length },
          { key: SearchAttributes.succeeded, value: 0 },
          { key: SearchAttributes.failed, value: 0 },
          { key: SearchAttributes.bytes, value: 0 },
        ],
        staticSummary: `${manifest.handler} job ${jobId}: ${resources.length} resource${resources.length === 1 ? '' : 's'}`,
      }));
      return { jobId, created: true };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        const existing = await this.describe(jobId);
        if (existing.memo?.manifestHash === hash) return { jobId, created: false };
        throw new ApiError(409, ErrorCode.jobConflict, `job ${jobId} exists with a different manifest`, { jobId });
      }
      if (isTemporalUnavailable(err)) throw temporalUnavailable(err);
      throw err;
    }
  }

  /** Describes a job's workflow; 404 job_not_found when there is none. */
  async describe(jobId: string): Promise<WorkflowExecutionDescription> {
    try {
      return await this.withDeadline(() => this.deps.client.workflow.getHandle(workflowIdFor(jobId)).describe());
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || (isGrpcServiceError(err) && err.code === grpcStatus.NOT_FOUND)) {
        throw new ApiError(404, ErrorCode.jobNotFound, `no job ${jobId}`);
      }
      if (isTemporalUnavailable(err)) throw temporalUnavailable(err);
      throw err;
    }
  }

  /**
   * The job summary. Closed jobs are answered from search attributes (one describe call, no
   * worker needed); running jobs from the workflow's live `summary` query, falling back to
   * search attributes when no worker answers in time.
   */
  async summary(jobId: string): Promise<JobSummary> {
    const desc = await this.describe(jobId);
    const sa = desc.typedSearchAttributes;
    const total = sa.get(SearchAttributes.total) ?? 0;
    let succeeded = sa.get(SearchAttributes.succeeded) ?? 0;
    let failed = sa.get(SearchAttributes.failed) ?? 0;
    let bytes = sa.get(SearchAttributes.bytes) ?? 0;
    const handler = sa.get(SearchAttributes.handler) ?? 'default';
    let status: JobStatus;
    switch (desc.status.name) {
      case 'RUNNING':
        status = JobStatus.running;
        try {
          const live = await this.withDeadline(
            () => this.deps.client.workflow.getHandle(desc.workflowId).query(summaryQuery),
            Math.min(QUERY_DEADLINE_MS, this.deps.config.api.temporalTimeoutMs),
          );
          ({ succeeded, failed, bytes } = { succeeded: live.resources.succeeded, failed: live.resources.failed, bytes: live.bytes });
        } catch {
          // No worker answered: the last published counts are still true, only older.
        }
        break;
      case 'COMPLETED':
        status = (sa.get(SearchAttributes.status) as JobStatus | undefined) ?? JobStatus.completed;
        if (status === JobStatus.running) status = failed > 0 ? JobStatus.completedWithFailures : JobStatus.completed;
        break;
      case 'CANCELLED':
        status = JobStatus.canceled;
        break;
      case 'TERMINATED':
        status = JobStatus.terminated;
        break;
      case 'TIMED_OUT':
        status = JobStatus.timedOut;
        break;
      default:
        status = JobStatus.failed;
    }
    return {
      jobId,
      handler,
      status,
      resources: { total, succeeded, failed, pending: Math.max(total - succeeded - failed, 0) },
      bytes,
      startedAt: desc.startTime.toISOString(),
      ...(desc.closeTime ? { closedAt: desc.closeTime.toISOString() } : {}),
    };
  }

  /** A page of per-resource states from the job's `resources` query. */
  async resources(jobId: string, opts: { status?: ResourceStatus; from: number; limit: number }): Promise<ResourcesPage> {
    await this.describe(jobId);
    try {
      return await this.withDeadline(() => this.deps.client.workflow.getHandle(workflowIdFor(jobId)).query(resourcesQuery, opts));
    } catch (err) {
      if (isTemporalUnavailable(err)) throw temporalUnavailable(err);
      throw err;
    }
  }

  /** The Temporal Web UI page of a job's workflow. */
  temporalUiUrl(jobId: string): string {
    const { uiUrl, namespace } = this.deps.config.temporal;
    return `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowIdFor(jobId))}`;
  }
}
