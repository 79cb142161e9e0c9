import { createHash, randomUUID } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  isGrpcServiceError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes.js';
import type { Config } from '../config/config-schema.js';
import { defaultStorageKey } from '../handlers/handler.js';
import { resolvePolicy } from '../handlers/policy.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import { ObjectNotFoundError, StorageError } from '../storage/errors.js';
import { jobIdProblem } from '../storage/keys.js';
import type { Storage } from '../storage/storage.js';
import { jobWorkflow, retrySignal, summaryQuery } from '../workflows/job-workflow.js';
import {
  JobStatus,
  ResourceStatus,
  jobWorkflowId,
  pageKey,
  pageWorkflowId,
  type JobMemo,
  type JobProgress,
  type JobResult,
  type JobWorkflowInput,
  type ManifestResource,
  type PageProgress,
  type PageResult,
  type ResourceState,
  type StagedManifest,
} from '../workflows/job-types.js';
import { MAX_PAGE_TASKS, PAGE_BUDGET_BYTES, worstStateBytes } from '../workflows/page-budget.js';
import { pageStatesQuery, pageSummaryQuery } from '../workflows/page-workflow.js';
import { SearchAttributes } from '../workflows/search-attributes.js';
import { isSearchAttributeNotRegistered } from '../temporal/search-attributes-setup.js';
import { ApiError, ErrorCode, issuesError } from './api-error.js';
import { manifestLimitIssues, type ManifestLimits } from './manifest-limits.js';
import type { Manifest } from './schemas.js';

/** gRPC status codes the service reacts to (numeric, as @grpc/grpc-js defines them). */
const grpcStatus = { DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, UNAVAILABLE: 14 } as const;

/** How long the API waits for a live answer from a running job before using search attributes. */
const QUERY_DEADLINE_MS = 3_000;
/**
 * Largest resource list (JSON bytes) carried inline in the workflow input instead of staged by
 * the API; well under Temporal's 2 MB payload limit, and carried by every run of the job.
 */
const INLINE_MAX_BYTES = 256 * 1024;
/** Stands for a key a handler computes: the longest key storage accepts (1024 bytes). */
const LONGEST_KEY = 'k'.repeat(1024);
/** Pages written to storage at once while staging a manifest. */
const STAGING_CONCURRENCY = 8;
/** Pages one `GET /jobs/{jobId}/resources` call reads at most; the cursor continues from there. */
const MAX_PAGES_PER_LISTING = 10;

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

/** Runs `fn` over `items` with at most `limit` calls in flight. */
async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
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

function isNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || (isGrpcServiceError(err) && err.code === grpcStatus.NOT_FOUND);
}

/** A signal found the workflow already closed ("workflow execution already completed"). */
export function isAlreadyCompleted(err: unknown): boolean {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  const message = err instanceof Error ? err.message : '';
  return /already completed|already finished/i.test(message) || (cause !== undefined && cause !== err && isAlreadyCompleted(cause));
}

/** A retry's signal raced the job's close; the caller looks at the job again. */
class JobClosedWhileSignaling extends Error {
  override readonly name = 'JobClosedWhileSignaling';
  constructor(
    readonly jobId: string,
    options: ErrorOptions,
  ) {
    super(`job ${jobId} closed while a retry signal was sent`, options);
  }
}

function temporalUnavailable(err: unknown): ApiError {
  return new ApiError(503, ErrorCode.temporalUnavailable, `Temporal is unavailable; retry later (${(err as Error).message})`);
}

/** Temporal refused a FetchBox search attribute: not registered, or registered a moment ago. */
function searchAttributesNotReady(): ApiError {
  return new ApiError(
    503,
    ErrorCode.temporalUnavailable,
    "FetchBox's search attributes are not registered in the Temporal namespace yet; start a `fetchbox worker` (it registers them) or register them (docs/deployment.md), then retry",
  ).retryAfter(1);
}

/**
 * Splits resources into pages of at most `pageSize` resources whose worst-case states (each
 * resource's JSON with its key, plus the most a state can add: see page-budget.ts) stay within
 * PAGE_BUDGET_BYTES, so no page's loadPage result, batch input, failedTasks result or PageResult
 * can reach Temporal's payload limit. `keyOf` gives the key a resource will be stored under
 * (default: its own key); a handler that computes keys passes the longest possible one.
 */
export function paginate(
  resources: readonly ManifestResource[],
  pageSize: number,
  keyOf: (r: ManifestResource) => string = (r) => r.key ?? '',
): ManifestResource[][] {
  const pages: ManifestResource[][] = [];
  let current: ManifestResource[] = [];
  let bytes = 2;
  const size = Math.min(Math.max(1, pageSize), MAX_PAGE_TASKS);
  for (const r of resources) {
    const cost = worstStateBytes({ ...r, key: keyOf(r) }) + 1;
    if (current.length > 0 && (current.length >= size || bytes + cost > PAGE_BUDGET_BYTES)) {
      pages.push(current);
      current = [];
      bytes = 2;
    }
    current.push(r);
    bytes += cost;
  }
  if (current.length > 0) pages.push(current);
  return pages;
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

/** One job in a `GET /jobs` listing (from visibility: search attributes, no live query). */
export type JobListItem = JobSummary;

/** A page of jobs; `next` is the opaque cursor of the following page, if any. */
export interface JobListing {
  items: JobListItem[];
  next: string | null;
}

/** Visibility query clause for each contract status. */
const STATUS_QUERY: Record<JobStatus, string> = {
  running: `ExecutionStatus = 'Running'`,
  completed: `ExecutionStatus = 'Completed' AND FetchBoxStatus = 'completed'`,
  completed_with_failures: `ExecutionStatus = 'Completed' AND FetchBoxStatus = 'completed_with_failures'`,
  failed: `ExecutionStatus = 'Failed'`,
  canceled: `ExecutionStatus = 'Canceled'`,
  terminated: `ExecutionStatus = 'Terminated'`,
  timed_out: `ExecutionStatus = 'TimedOut'`,
};

/** Visibility's ExecutionStatus enum → the workflow status names describe() uses. */
const RAW_STATUS: Record<number, string> = {
  1: 'RUNNING',
  2: 'COMPLETED',
  3: 'FAILED',
  4: 'CANCELLED',
  5: 'TERMINATED',
  6: 'CONTINUED_AS_NEW',
  7: 'TIMED_OUT',
};

/** A page of resource states; `next` is the opaque cursor of the following page, if any. */
export interface ResourceListing {
  items: ResourceState[];
  next: string | null;
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
 * a manifest hash kept in the workflow memo) and reads job state back from Temporal only: search
 * attributes and queries for summaries, page workflows' results for per-resource states.
 */
export class JobService {
  constructor(private readonly deps: JobServiceDeps) {}

  /** Bounds one Temporal call so a crawler gets a prompt 503 rather than the SDK's long retries. */
  private async temporal<T>(fn: () => Promise<T>, ms = this.deps.config.api.temporalTimeoutMs): Promise<T> {
    try {
      return await this.deps.client.connection.withDeadline(Date.now() + ms, fn);
    } catch (err) {
      if (isTemporalUnavailable(err)) throw temporalUnavailable(err);
      if (isSearchAttributeNotRegistered(err)) throw searchAttributesNotReady();
      throw err;
    }
  }

  /**
   * The value a metric may carry for a handler name: registered names as they are, anything else
   * `other`, so a caller cannot grow a metric's label set with made-up handler names.
   */
  handlerLabel(name: string): string {
    return this.deps.handlers.has(name) ? name : 'other';
  }

  /** The configured manifest limits, so the app can refuse an oversized manifest before validating it. */
  get manifestLimits(): ManifestLimits {
    return this.deps.config.limits;
  }

  /** Validates what zod cannot (limits, handler, unique ids) and starts the job's workflow. */
  async submit(manifest: Manifest): Promise<SubmitResult> {
    const { config, handlers, storage, client } = this.deps;
    if (!handlers.has(manifest.handler)) {
      throw new ApiError(400, ErrorCode.unknownHandler, `unknown handler ${JSON.stringify(manifest.handler)}`, {
        known: handlers.names(),
      });
    }
    // The app checks these before validation too; here they hold for every caller, and they keep
    // metadata shallow and small before canonicalJson (recursive) and the workflow input see it.
    const limitIssues = manifestLimitIssues(manifest, config.limits);
    const idProblem = manifest.jobId === undefined ? undefined : jobIdProblem(manifest.jobId);
    if (idProblem !== undefined) limitIssues.push({ path: 'jobId', message: `jobId ${idProblem}` });
    if (limitIssues.length > 0) throw issuesError(ErrorCode.invalidManifest, 'the manifest exceeds a limit', limitIssues);
    const seen = new Set<string>();
    const problems: { path: string; message: string }[] = [];
    const resources: ManifestResource[] = manifest.resources.map((r, i) => {
      const id = r.id ?? String(i);
      if (seen.has(id)) problems.push({ path: `resources.${i}.id`, message: `duplicate id ${JSON.stringify(id)}` });
      seen.add(id);
      return { id, url: r.url, ...(r.key !== undefined ? { key: r.key } : {}), ...(r.headers ? { headers: r.headers } : {}) };
    });
    if (problems.length > 0) throw issuesError(ErrorCode.invalidManifest, 'resource ids must be unique', problems);

    const jobId = manifest.jobId ?? randomUUID();
    const hash = createHash('sha256')
      .update(canonicalJson({ handler: manifest.handler, metadata: manifest.metadata ?? null, resources }))
      .digest('hex');

    // Staged under the manifest's hash: a conflicting submit can never overwrite another's pages,
    // and an identical one rewrites identical bytes.
    const prefix = `${jobId}/.fetchbox/${hash.slice(0, 16)}`;
    // Keys count against the page budget: the default key is known here; a handler's own
    // storageKey may return any key up to the 1024-byte maximum.
    const computesKeys = handlers.get(manifest.handler).storageKey !== undefined;
    const pages = paginate(resources, config.job.pageSize, (r) => (computesKeys ? LONGEST_KEY : defaultStorageKey(r, { jobId })));
    const document = {
      jobId,
      handler: manifest.handler,
      metadata: manifest.metadata ?? {},
      resources: { total: resources.length, pages: pages.length },
      manifestHash: hash,
    };
    // A one-page manifest of at most INLINE_MAX_BYTES goes in the workflow input (durable in
    // Temporal's history; the workflow stages it): the accept costs one Temporal call and no
    // storage write. Larger ones are staged here, before the workflow starts.
    const inline = pages.length === 1 && JSON.stringify(resources).length <= INLINE_MAX_BYTES ? { document, resources } : undefined;
    if (!inline) {
      try {
        // The pages and the manifest document are written at once: an accept waits for one
        // round of durable writes, not two (the workflow starts only after all of them).
        await Promise.all([
          mapLimit(
            pages.map((items, page) => ({ items, page })),
            STAGING_CONCURRENCY,
            ({ items, page }) => storage.putJson(pageKey(prefix, page), items),
          ),
          storage.putJson(`${prefix}/manifest.json`, document),
        ]);
      } catch (err) {
        if (err instanceof StorageError) {
          throw new ApiError(503, ErrorCode.storageUnavailable, `storage is unavailable; retry later (${err.message})`);
        }
        throw err;
      }
    }
    const submittedAt = new Date().toISOString();
    const staged: StagedManifest = {
      hash,
      prefix,
      manifestKey: `${prefix}/manifest.json`,
      pageCount: pages.length,
      total: resources.length,
      ...(inline ? { inline } : {}),
    };
    const policy = resolvePolicy(config, handlers.get(manifest.handler));
    const input: JobWorkflowInput = { jobId, handler: manifest.handler, manifest: staged, policy, submittedAt, maxTasks: config.limits.maxResourcesPerJob };
    const memo: JobMemo = { manifestHash: hash, manifestPrefix: prefix, pageCount: pages.length, startedAt: submittedAt };
    try {
      await this.temporal(() =>
        client.workflow.start(jobWorkflow, {
          workflowId: jobWorkflowId(jobId),
          taskQueue: config.temporal.taskQueue,
          args: [input],
          memo: { ...memo },
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          typedSearchAttributes: [
            { key: SearchAttributes.handler, value: manifest.handler },
            { key: SearchAttributes.status, value: JobStatus.running },
            { key: SearchAttributes.total, value: resources.length },
            { key: SearchAttributes.succeeded, value: 0 },
            { key: SearchAttributes.failed, value: 0 },
            { key: SearchAttributes.bytes, value: 0 },
          ],
          staticSummary: `${manifest.handler} job ${jobId}: ${resources.length} resource${resources.length === 1 ? '' : 's'} in ${pages.length} page${pages.length === 1 ? '' : 's'}`,
        }),
      );
      return { jobId, created: true };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        const existing = await this.describe(jobId);
        if ((existing.memo as Partial<JobMemo> | undefined)?.manifestHash === hash) return { jobId, created: false };
        throw new ApiError(409, ErrorCode.jobConflict, `job ${jobId} exists with a different manifest`, { jobId });
      }
      throw err;
    }
  }

  /** Describes a job's workflow (its latest run); 404 job_not_found when there is none. */
  async describe(jobId: string): Promise<WorkflowExecutionDescription> {
    try {
      return await this.temporal(() => this.deps.client.workflow.getHandle(jobWorkflowId(jobId)).describe());
    } catch (err) {
      if (isNotFound(err)) throw new ApiError(404, ErrorCode.jobNotFound, `no job ${jobId}`);
      throw err;
    }
  }

  /** The contract's status for a described job workflow. */
  private statusOf(desc: Pick<WorkflowExecutionDescription, 'status' | 'typedSearchAttributes'>): JobStatus {
    switch (desc.status.name) {
      case 'RUNNING':
      case 'CONTINUED_AS_NEW':
        return JobStatus.running;
      case 'COMPLETED': {
        const recorded = desc.typedSearchAttributes.get(SearchAttributes.status) as JobStatus | undefined;
        if (recorded === JobStatus.completed || recorded === JobStatus.completedWithFailures) return recorded;
        return (desc.typedSearchAttributes.get(SearchAttributes.failed) ?? 0) > 0 ? JobStatus.completedWithFailures : JobStatus.completed;
      }
      case 'CANCELLED':
        return JobStatus.canceled;
      case 'TERMINATED':
        return JobStatus.terminated;
      case 'TIMED_OUT':
        return JobStatus.timedOut;
      default:
        return JobStatus.failed;
    }
  }

  /** Live counts of a running job: the job's own counts plus those of its running pages. */
  private async liveProgress(jobId: string): Promise<JobProgress | undefined> {
    const { client } = this.deps;
    const deadline = Math.min(QUERY_DEADLINE_MS, this.deps.config.api.temporalTimeoutMs);
    try {
      const live = await this.temporal(() => client.workflow.getHandle(jobWorkflowId(jobId)).query(summaryQuery), deadline);
      const pages = await Promise.all(
        live.runningPages.map(({ page, round }) =>
          this.temporal(() => client.workflow.getHandle(pageWorkflowId(jobId, page, round)).query(pageSummaryQuery), deadline).catch(
            () => undefined as PageProgress | undefined,
          ),
        ),
      );
      for (const p of pages) {
        if (!p) continue;
        live.resources.succeeded += p.succeeded;
        live.bytes += p.bytes;
        if (p.round === 0) live.resources.failed += p.failed;
        else live.resources.failed -= p.succeeded;
      }
      live.resources.pending = Math.max(live.resources.total - live.resources.succeeded - live.resources.failed, 0);
      return live;
    } catch {
      return undefined; // no worker answered in time: the published counts are still true, only older
    }
  }

  /**
   * The job summary. Closed jobs are answered from search attributes (one describe call, no
   * worker needed); running jobs from the workflow's live queries, falling back to search
   * attributes when no worker answers in time.
   */
  async summary(jobId: string): Promise<JobSummary> {
    const desc = await this.describe(jobId);
    const sa = desc.typedSearchAttributes;
    const memo = (desc.memo ?? {}) as Partial<JobMemo>;
    const status = this.statusOf(desc);
    let total = sa.get(SearchAttributes.total) ?? 0;
    let succeeded = sa.get(SearchAttributes.succeeded) ?? 0;
    let failed = sa.get(SearchAttributes.failed) ?? 0;
    let bytes = sa.get(SearchAttributes.bytes) ?? 0;
    if (status === JobStatus.running) {
      const live = await this.liveProgress(jobId);
      if (live) {
        ({ total, succeeded, failed } = live.resources);
        bytes = live.bytes;
      }
    }
    return {
      jobId,
      handler: sa.get(SearchAttributes.handler) ?? 'default',
      status,
      resources: { total, succeeded, failed, pending: Math.max(total - succeeded - failed, 0) },
      bytes,
      startedAt: memo.startedAt ?? desc.startTime.toISOString(),
      ...(desc.closeTime && status !== JobStatus.running ? { closedAt: desc.closeTime.toISOString() } : {}),
    };
  }

  /** States of one page workflow run: its result when closed, a live query when running. */
  private async pageRunStates(jobId: string, page: number, round: number): Promise<ResourceState[] | undefined> {
    const handle = this.deps.client.workflow.getHandle(pageWorkflowId(jobId, page, round));
    let desc: WorkflowExecutionDescription;
    try {
      desc = await this.temporal(() => handle.describe());
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    if (desc.status.name === 'COMPLETED') return ((await this.temporal(() => handle.result())) as PageResult).states;
    if (desc.status.name === 'RUNNING') return this.temporal(() => handle.query(pageStatesQuery)).catch(() => undefined);
    return undefined;
  }

  /** Every resource of one page in its latest state: later rounds override, attempts add up. */
  private async pageStates(jobId: string, handler: string, prefix: string, page: number, rounds: number): Promise<ResourceState[]> {
    let base = await this.pageRunStates(jobId, page, 0);
    if (!base) {
      // An inline manifest is staged by the workflow's first activity: until a worker ran it,
      // the page has no resources to list yet.
      const resources = await this.deps.storage.getJson<ManifestResource[]>(pageKey(prefix, page)).catch((err: unknown) => {
        if (err instanceof ObjectNotFoundError) return [];
        throw err;
      });
      // Not started yet: the manifest's resources as given (a handler's expand may change them).
      base = resources.map((r) => ({
        id: r.id,
        url: r.url,
        key: defaultStorageKey(r, { jobId }),
        status: ResourceStatus.pending,
        attempts: 0,
      }));
    }
    if (rounds === 0) return base;
    const index = new Map(base.map((s, i) => [s.id, i]));
    const merged = [...base];
    for (let round = 1; round <= rounds; round++) {
      const states = await this.pageRunStates(jobId, page, round);
      for (const s of states ?? []) {
        const i = index.get(s.id);
        if (i === undefined || s.status === ResourceStatus.pending) continue;
        merged[i] = { ...s, attempts: merged[i]!.attempts + s.attempts };
      }
    }
    return merged;
  }

  /**
   * A page of per-resource states in manifest order, optionally filtered by status. The cursor
   * is `<page>.<offset>`; a call reads at most MAX_PAGES_PER_LISTING pages, so a sparse filter
   * may return fewer than `limit` items with a cursor to continue.
   */
  async resources(jobId: string, opts: { status?: ResourceStatus; cursor?: string; limit: number }): Promise<ResourceListing> {
    const desc = await this.describe(jobId);
    const memo = (desc.memo ?? {}) as Partial<JobMemo>;
    const handler = desc.typedSearchAttributes.get(SearchAttributes.handler) ?? 'default';
    if (memo.manifestPrefix === undefined || memo.pageCount === undefined) {
      throw new ApiError(404, ErrorCode.jobNotFound, `job ${jobId} has no FetchBox manifest`);
    }
    let [page, offset] = (opts.cursor ?? '0.0').split('.').map(Number) as [number, number];
    const items: ResourceState[] = [];
    for (let read = 0; page < memo.pageCount && read < MAX_PAGES_PER_LISTING; read++) {
      const states = await this.pageStates(jobId, handler, memo.manifestPrefix, page, memo.rounds ?? 0);
      for (; offset < states.length; offset++) {
        const state = states[offset]!;
        if (opts.status !== undefined && state.status !== opts.status) continue;
        if (items.length === opts.limit) return { items, next: `${page}.${offset}` };
        items.push(state);
      }
      page++;
      offset = 0;
    }
    return { items, next: page < memo.pageCount ? `${page}.${offset}` : null };
  }

  /**
   * Downloads the job's failed resources again. A running job gets a `retryFailed` signal (a
   * retry round runs after its current pass); a closed job with failures gets a new run of the
   * same workflow id that carries its counts and runs only the retry round.
   */
  async retry(jobId: string): Promise<{ status: JobStatus; retrying: boolean }> {
    // A job can close between describe and signal: the signal then finds no running workflow
    // (not found / already completed), and the job is looked at again, now closed. Twice is enough
    // (a closed job does not become running again except by a retry, which answers 202 here too).
    for (let tries = 0; ; tries++) {
      try {
        return await this.retryOnce(jobId);
      } catch (err) {
        if (!(err instanceof JobClosedWhileSignaling)) throw err;
        // Closed under us three times: retry runs keep starting and closing; one is under way.
        if (tries >= 2) return { status: JobStatus.running, retrying: true };
      }
    }
  }

  private async retryOnce(jobId: string): Promise<{ status: JobStatus; retrying: boolean }> {
    const { client, config } = this.deps;
    const desc = await this.describe(jobId);
    const status = this.statusOf(desc);
    if (status === JobStatus.running) {
      try {
        await this.temporal(() => client.workflow.getHandle(jobWorkflowId(jobId)).signal(retrySignal));
      } catch (err) {
        if (isNotFound(err) || isAlreadyCompleted(err)) throw new JobClosedWhileSignaling(jobId, { cause: err });
        throw err;
      }
      return { status, retrying: true };
    }
    if (status !== JobStatus.completed && status !== JobStatus.completedWithFailures) {
      throw new ApiError(409, ErrorCode.jobNotRetryable, `job ${jobId} is ${status}; reset its workflow instead (docs/runbook.md)`, { status });
    }
    // The described run's result: a retry that started meanwhile must not be waited for.
    const closed = client.workflow.getHandle(jobWorkflowId(jobId), desc.runId, { followRuns: false });
    const result = (await this.temporal(() => closed.result())) as JobResult;
    const carry = result.resume.carry;
    if (!carry || carry.failedPages.length === 0) return { status, retrying: false };
    try {
      await this.temporal(() =>
        client.workflow.start(jobWorkflow, {
          workflowId: jobWorkflowId(jobId),
          taskQueue: config.temporal.taskQueue,
          args: [{ ...result.resume, carry: { ...carry, retryRequests: 1 } }],
          memo: desc.memo ?? {},
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          typedSearchAttributes: desc.typedSearchAttributes,
          staticSummary: `${result.handler} job ${jobId}: retry of ${carry.failed} failed resource${carry.failed === 1 ? '' : 's'}`,
        }),
      );
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err; // a concurrent retry won
    }
    return { status: JobStatus.running, retrying: true };
  }

  /** Cancels a running job (idempotent for an already canceled one). */
  async cancel(jobId: string): Promise<{ status: JobStatus }> {
    const desc = await this.describe(jobId);
    const status = this.statusOf(desc);
    if (status === JobStatus.canceled) return { status };
    if (status !== JobStatus.running) {
      throw new ApiError(409, ErrorCode.jobNotRunning, `job ${jobId} is ${status}, not running`, { status });
    }
    await this.temporal(() => this.deps.client.workflow.getHandle(jobWorkflowId(jobId)).cancel());
    return { status };
  }

  /**
   * Jobs from Temporal visibility, newest first, filtered by status and handler. Continued-as-new
   * runs are left out; a retried job's earlier run is shown once per page at most (its latest).
   */
  async list(opts: { status?: JobStatus; handler?: string; limit: number; cursor?: string }): Promise<JobListing> {
    const { client, config } = this.deps;
    const clauses = [`WorkflowType = 'jobWorkflow'`, `ExecutionStatus != 'ContinuedAsNew'`];
    if (opts.status) clauses.push(STATUS_QUERY[opts.status]);
    if (opts.handler) clauses.push(`FetchBoxHandler = '${opts.handler.replace(/[\\']/g, '')}'`);
    const res = await this.temporal(() =>
      client.workflowService.listWorkflowExecutions({
        namespace: config.temporal.namespace,
        query: clauses.join(' AND '),
        pageSize: opts.limit,
        ...(opts.cursor ? { nextPageToken: Buffer.from(opts.cursor, 'base64url') } : {}),
      }),
    );
    const seen = new Set<string>();
    const items: JobListItem[] = [];
    for (const info of res.executions ?? []) {
      const workflowId = info.execution?.workflowId ?? '';
      if (!workflowId.startsWith('job-') || seen.has(workflowId)) continue;
      seen.add(workflowId);
      const typedSearchAttributes = decodeTypedSearchAttributes(info.searchAttributes?.indexedFields);
      const status = this.statusOf({ status: { code: info.status ?? 0, name: RAW_STATUS[info.status ?? 0] ?? 'UNKNOWN' } as never, typedSearchAttributes });
      const total = typedSearchAttributes.get(SearchAttributes.total) ?? 0;
      const succeeded = typedSearchAttributes.get(SearchAttributes.succeeded) ?? 0;
      const failed = typedSearchAttributes.get(SearchAttributes.failed) ?? 0;
      const toIso = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
        t ? new Date(Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString() : undefined;
      const closedAt = toIso(info.closeTime);
      items.push({
        jobId: workflowId.slice('job-'.length),
        handler: typedSearchAttributes.get(SearchAttributes.handler) ?? 'default',
        status,
        resources: { total, succeeded, failed, pending: Math.max(total - succeeded - failed, 0) },
        bytes: typedSearchAttributes.get(SearchAttributes.bytes) ?? 0,
        startedAt: toIso(info.startTime) ?? '',
        ...(closedAt && status !== JobStatus.running ? { closedAt } : {}),
      });
    }
    const token = res.nextPageToken && res.nextPageToken.length > 0 ? Buffer.from(res.nextPageToken).toString('base64url') : null;
    return { items, next: token };
  }

  /**
   * Polls a job every `intervalMs` until it closes, yielding each summary and whether it changed
   * since the previous one; the last one yielded is the closed job's. Stops early when `signal`
   * aborts (the client went away).
   */
  async *progress(jobId: string, intervalMs: number, signal: AbortSignal): AsyncGenerator<{ summary: JobSummary; changed: boolean }> {
    let last = '';
    for (;;) {
      const summary = await this.summary(jobId);
      const key = JSON.stringify(summary);
      yield { summary, changed: key !== last };
      last = key;
      if (summary.status !== JobStatus.running || signal.aborted) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
      if (signal.aborted) return;
    }
  }

  /** The Temporal Web UI page of a job's workflow. */
  temporalUiUrl(jobId: string): string {
    const { uiUrl, namespace } = this.deps.config.temporal;
    return `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(jobWorkflowId(jobId))}`;
  }
}
