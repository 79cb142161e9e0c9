/**
 * Shapes that cross the Temporal boundary (workflow inputs, activity inputs and results, query
 * answers). Types only: the constants they use live in constants.ts, the download activities' shapes
 * in download-types.ts, ids in ids.ts. Safe to import from workflow code, the worker and the API.
 */
import type { ErrorKind, JobStatus, ResourceStatus } from './constants.js';
import type { JobNotify, NotifyMemo } from './notify-types.js';

/** One resource as the manifest gave it, after the API assigned a default id. */
export interface ManifestResource {
  id: string;
  url: string;
  key?: string;
  headers?: Record<string, string>;
}

/** What a handler turned a manifest resource into: everything one download needs. */
export interface DownloadTask {
  id: string;
  url: string;
  key: string;
  headers?: Record<string, string>;
  /** The configured store the object goes to (a name, never a URL); absent means `default`. */
  store?: string;
}

/** Why a resource failed, as recorded in its state. */
export interface ResourceError {
  kind: ErrorKind;
  message: string;
  httpStatus?: number;
}

/** Per-resource state: the ledger's view of one URL. */
export interface ResourceState {
  id: string;
  url: string;
  key: string;
  status: ResourceStatus;
  attempts: number;
  bytes?: number;
  sha256?: string;
  contentType?: string;
  /** Succeeded by a `304 Not Modified`: the object stored earlier for this key and URL was kept. */
  notModified?: boolean;
  /** The store the object is in (or was headed for); absent means `default`. */
  store?: string;
  error?: ResourceError;
}

/** The retry policy a job's downloads run under (Temporal RetryPolicy in milliseconds). */
export interface RetryPolicyInput {
  maximumAttempts: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
}

/** Everything a job's workflow needs to know about how to download; fixed at submit time. */
export interface JobPolicy {
  /** Downloads in flight for the whole job, split across the pages that run at once. */
  concurrency: number;
  /** Pages (child workflows) running at once; 2 keeps the window full across page boundaries. */
  pageParallelism: number;
  retry: RetryPolicyInput;
  attemptTimeoutMs: number;
  heartbeatTimeoutMs: number;
  maxBytes: number;
  /** Proxy tier names in order (`direct` = no proxy); the activity picks one per attempt. */
  proxyTiers: string[];
  /** Attempts on one tier before moving to the next. */
  attemptsPerTier: number;
  /**
   * Skip-if-present: a resource whose key already holds an object from the same URL is not
   * downloaded again (when `maxAgeMs` is set, only if that object is younger). Off when absent.
   */
  skipExisting?: { maxAgeMs?: number };
  /**
   * Conditional recrawls: when the key holds an object from the same URL with a stored ETag or
   * Last-Modified, the request carries If-None-Match / If-Modified-Since and a 304 keeps the
   * object. On when absent; a handler policy sets `false` to always download in full.
   */
  revalidate?: boolean;
  /** Politeness: downloads in flight per host for the whole job; 0 or absent = no per-host limit. */
  perHostConcurrency?: number;
  /**
   * The job's store (a configured name): the manifest's `store` where the handler allows it, else
   * the handler's policy. Absent means `default`. Hooks may still choose per resource.
   */
  store?: string;
  /**
   * Resources whose first attempt runs in one `downloadBatch` activity; 1 or absent = one activity
   * per resource. With perHostConcurrency, batches hold one host each.
   */
  batchSize?: number;
}

/** Where the API staged a manifest in storage, so workflow inputs stay small at any size. */
export interface StagedManifest {
  /** sha256 of the canonical manifest: the idempotency fingerprint. */
  hash: string;
  /** Storage prefix of the staged manifest; pages are `<prefix>/pages/<NNNNNN>.json`. */
  prefix: string;
  /** Storage key of the staged manifest document (metadata, counts). */
  manifestKey: string;
  pageCount: number;
  total: number;
  /**
   * A small manifest (one page) travels in the workflow input instead of being staged by the API:
   * the history keeps it durably, the accept skips two storage writes, and `publishManifest`
   * stages it under `prefix` before any page runs. Absent for staged manifests.
   */
  inline?: InlineManifest;
}

/** A one-page manifest carried in the job workflow's input: the staged document and its page. */
export interface InlineManifest {
  document: Record<string, unknown>;
  resources: ManifestResource[];
}

/** Memo the API writes on every job workflow run: what reading a job needs besides history. */
export interface JobMemo {
  manifestHash: string;
  manifestPrefix: string;
  pageCount: number;
  startedAt: string;
  /** Retry rounds started so far (upserted by the workflow). */
  rounds?: number;
  /** The completion webhook's delivery state, for jobs with one (notify-types.ts). */
  notify?: NotifyMemo;
}

/** State a job carries across continue-as-new and into a retry run. */
export interface JobCarry {
  /** First page not started yet (round 0). */
  nextPage: number;
  total: number;
  succeeded: number;
  failed: number;
  bytes: number;
  /** Pages with at least one failed resource after their latest round. */
  failedPages: number[];
  /** The latest retry round started (0 before any retry). */
  round: number;
  /** Pages still to run in the current retry round. */
  retryQueue: number[];
  /** Retry requests not yet acted on (coalesced into one round). */
  retryRequests: number;
  /** Whether `<jobId>/manifest.json` was written. */
  published: boolean;
  /**
   * The result of page 0's first round when the job ran it inline (`inlineRun`): the ledger for
   * that round (src/ledger/page-states.ts reads it from the job workflow), carried into every
   * later run. Absent for jobs whose first round ran as a page child.
   */
  inlinePage?: PageResult;
}

/** Input of the job workflow. */
export interface JobWorkflowInput {
  jobId: string;
  handler: string;
  manifest: StagedManifest;
  policy: JobPolicy;
  submittedAt: string;
  /** Present after continue-as-new and in retry runs. */
  carry?: JobCarry;
  /**
   * Most tasks the job may have in all, handler expansions included (`limits.maxResourcesPerJob`;
   * the API always sets it). Absent: no cap.
   */
  maxTasks?: number;
  /**
   * Run the first round of the job's one inline page in the job workflow itself, as one
   * `downloadInline` activity (publish, handler keys, first attempts): no page child, no separate
   * publish or load activity. The API sets it for small jobs of handlers without `expand`
   * (INLINE_RUN_LIMITS in page-budget.ts); retry rounds still run as page children.
   */
  inlineRun?: true;
  /** The completion webhook, delivered when the job closes (job-notify.ts); absent: none. */
  notify?: JobNotify;
}

/** Input of the page workflow (one page of a job, in one round). */
export interface PageWorkflowInput {
  jobId: string;
  handler: string;
  page: number;
  pageKey: string;
  /** The staged manifest document (handler hooks read the job's metadata from it). */
  manifestKey: string;
  round: number;
  /** Downloads in flight in this page. */
  window: number;
  policy: JobPolicy;
  /**
   * Most tasks the handler's expansion may add beyond the page's own resources: this page's share
   * of what the job's task cap has left. Absent in retry rounds (they expand nothing) and for a job
   * without a cap.
   */
  maxExtraTasks?: number;
}

/** A page resource whose handler expansion was not taken (over a budget, or the handler threw for it). */
export interface RejectedResource {
  id: string;
  url: string;
  key: string;
  message: string;
}

/** What a page workflow returns: its counts and the state of every resource it ran. */
export interface PageResult {
  page: number;
  round: number;
  /** Resources in the staged page (before the handler's expand). */
  pageResources: number;
  /** Download tasks this page ran (after expand; in retries, the failed ones). */
  tasks: number;
  succeeded: number;
  failed: number;
  bytes: number;
  canceled: boolean;
  /** The state of every task, in task order (pending only for tasks a cancel stopped). */
  states: ResourceState[];
}

/** Live counts of a running page, answered by its `pageSummary` query. */
export interface PageProgress {
  page: number;
  round: number;
  tasks: number;
  succeeded: number;
  failed: number;
  bytes: number;
}

/** What the job workflow's `retry` Update answers: the job's status and whether a retry round will run. */
export interface RetryAnswer {
  status: JobStatus;
  /** False only when nothing failed and nothing is left that could fail. */
  retrying: boolean;
}

/** What the job workflow returns; `resume` is the input of a retry run. */
export interface JobResult extends JobProgress {
  resume: JobWorkflowInput;
}

/** Counts the summary and search attributes report. */
export interface JobCounts {
  total: number;
  succeeded: number;
  failed: number;
  pending: number;
}

/** Answer of the `summary` query: counts of finished pages, and which pages are running. */
export interface JobProgress {
  jobId: string;
  handler: string;
  status: JobStatus;
  resources: JobCounts;
  bytes: number;
  /**
   * Pages running now; their live counts come from each page's `pageSummary` query. `inline`: the
   * page runs inside the job workflow (its states come from the job's `inlinePage` query).
   */
  runningPages: { page: number; round: number; inline?: true }[];
}

/**
 * Answer of the job workflow's `inlinePage` query: page 0's first round when the job runs it
 * inline, finished (`result`) or running (its states so far); undefined when it does not.
 */
export type InlinePageAnswer = { result: PageResult } | { states: ResourceState[] } | undefined;
