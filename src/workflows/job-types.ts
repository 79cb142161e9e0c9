/**
 * Shapes that cross the Temporal boundary (workflow inputs, activity inputs and results, query
 * answers). Types and constants only: safe to import from workflow code, the worker and the API.
 */

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
}

/** Resource states as the API reports them. */
export const ResourceStatus = {
  pending: 'pending',
  succeeded: 'succeeded',
  failed: 'failed',
} as const;
export type ResourceStatus = (typeof ResourceStatus)[keyof typeof ResourceStatus];

/** Job states as the contract names them. */
export const JobStatus = {
  running: 'running',
  completed: 'completed',
  completedWithFailures: 'completed_with_failures',
  failed: 'failed',
  canceled: 'canceled',
  terminated: 'terminated',
  timedOut: 'timed_out',
} as const;
export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus];

/**
 * Every way a resource can end badly, as recorded in `error.kind` (the contract's list). One
 * object so the activity, the workflow and the API agree on the words.
 */
export const ErrorKind = {
  httpStatus: 'http_status',
  retriesExhausted: 'retries_exhausted',
  blockedAddress: 'blocked_address',
  tooLarge: 'too_large',
  timeout: 'timeout',
  truncated: 'truncated',
  storage: 'storage',
  handler: 'handler',
  invalidUrl: 'invalid_url',
} as const;
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

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
  concurrency: number;
  retry: RetryPolicyInput;
  attemptTimeoutMs: number;
  heartbeatTimeoutMs: number;
  maxBytes: number;
}

/** Where the API staged a manifest in storage, so workflow inputs stay small at any size. */
export interface StagedManifest {
  /** sha256 of the canonical manifest: the idempotency fingerprint. */
  hash: string;
  /** Storage key of the staged manifest document (metadata, counts). */
  manifestKey: string;
  /** Storage keys of the resource pages, in manifest order. */
  pageKeys: string[];
  total: number;
}

/** Input of the job workflow. */
export interface JobWorkflowInput {
  jobId: string;
  handler: string;
  manifest: StagedManifest;
  policy: JobPolicy;
  submittedAt: string;
}

/** Counts the summary and search attributes report. */
export interface JobCounts {
  total: number;
  succeeded: number;
  failed: number;
  pending: number;
}

/** Answer of the `summary` query and the workflow's result. */
export interface JobProgress {
  jobId: string;
  handler: string;
  status: JobStatus;
  resources: JobCounts;
  bytes: number;
}

/** Arguments of the `resources` query: a page of per-resource states. */
export interface ResourcesQuery {
  status?: ResourceStatus;
  /** Index in manifest order to continue from (the API's opaque cursor). */
  from?: number;
  limit: number;
}

/** Answer of the `resources` query. */
export interface ResourcesPage {
  items: ResourceState[];
  /** Where the next page starts, or null when there are no more. */
  next: number | null;
}

/** Input of the download activity. */
export interface DownloadInput {
  jobId: string;
  handler: string;
  task: DownloadTask;
  maxBytes: number;
}

/** What a successful download activity returns. */
export interface DownloadResult {
  bytes: number;
  sha256: string;
  contentType?: string;
  attempts: number;
  finalUrl: string;
}

/** Details attached to a failed download attempt (ApplicationFailure details[0]). */
export interface DownloadFailureDetails {
  kind: string;
  httpStatus?: number;
  attempt: number;
}
