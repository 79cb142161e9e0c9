/**
 * Shapes of the download activities (inputs, batch outcomes, results, failure details) that cross
 * the Temporal boundary. Types only: safe to import from workflow code, the worker and the API.
 */
import type { DownloadTask, InlineManifest, RejectedResource, ResourceError } from './job-types.js';

/** What every download activity needs besides its task(s). */
export interface DownloadCommon {
  jobId: string;
  handler: string;
  maxBytes: number;
  proxyTiers: string[];
  attemptsPerTier: number;
  skipExisting?: { maxAgeMs?: number };
  /** `false`: no conditional requests (the job policy's `revalidate`); absent means on. */
  revalidate?: false;
  /** The staged manifest document, for handler hooks that read the job's metadata. */
  manifestKey?: string;
}

/** Input of the download activity (one task, with Temporal retrying it). */
export interface DownloadInput extends DownloadCommon {
  task: DownloadTask;
  /** Attempts made before this activity started (1 when a batch made the first); 0 when absent. */
  attemptOffset?: number;
}

/** Input of the batch download activity: first attempts of many tasks in one activity. */
export interface DownloadBatchInput extends DownloadCommon {
  tasks: DownloadTask[];
  /** Downloads in flight inside the batch. */
  concurrency: number;
  /** Time budget of each download in the batch (the job's attempt timeout). */
  attemptTimeoutMs: number;
  /**
   * Polite batches: once a host answers a download with a retryable failure carrying Retry-After,
   * the batch starts no more downloads to that host. Those tasks are left out of the result (not
   * started, no attempt counted), for the workflow to schedule again when the host's pause is over.
   */
  pauseOnRetryAfter?: boolean;
  /**
   * Polite batches: `concurrency` counts requests at the origin, not downloads. Once a response's
   * body has been received whole, its storage commit (fsyncs, metadata, rename) finishes beside the
   * batch's next request; at most `concurrency` commits wait behind the requests.
   */
  overlapCommits?: boolean;
}

/**
 * Input of the inline-run activity (JobWorkflowInput.inlineRun): publishes the job's inline
 * manifest (stages its page and document, writes `<jobId>/manifest.json`), turns the page into
 * tasks through the handler, and makes every task's first attempt, `concurrency` at once.
 */
export interface DownloadInlineInput extends DownloadCommon {
  manifestKey: string;
  pageKey: string;
  submittedAt: string;
  inline: InlineManifest;
  /** The job's store (`policy.store`): tasks go there unless the handler chooses. */
  store?: string;
  concurrency: number;
  attemptTimeoutMs: number;
}

/**
 * What the inline-run activity returns: the page's tasks (as `loadPage` returns them) and the
 * outcome of each task's first attempt (as `downloadBatch` returns them, by task index). Bounded by
 * the inline limits (page-budget.ts): at most INLINE_RUN_LIMITS.maxResources tasks.
 */
export interface InlineRunResult {
  tasks: DownloadTask[];
  pageResources: number;
  rejected?: RejectedResource[];
  handlerError?: { message: string; resources: DownloadTask[] };
  outcomes: BatchOutcome[];
}

/** A failed attempt in a batch, with the origin's Retry-After when it sent one. */
export interface BatchFailure extends ResourceError {
  retryAfterMs?: number;
}

/**
 * How one task of a batch ended: stored (`ok`), failed for good (`failed`: a permanent class), or
 * failed in a way worth retrying (`retry`: the workflow retries it in its own activity). `index`
 * is the task's position in the batch.
 */
export type BatchOutcome =
  | { index: number; ok: Omit<DownloadResult, 'finalUrl'> }
  | { index: number; failed: ResourceError }
  | { index: number; retry: BatchFailure };

/** What a successful download activity returns. */
export interface DownloadResult {
  /** The proxy tier that served the body (`skipped`: skip-if-present kept an existing object; `resumed`: an earlier attempt of this page run stored it). */
  tier: string;
  /** True when skip-if-present kept an existing object instead of downloading. */
  skipped?: boolean;
  /** True when the origin answered `304 Not Modified` to a conditional request: the existing object was kept. */
  notModified?: boolean;
  bytes: number;
  sha256: string;
  contentType?: string;
  /** Set when the handler's `objectOptions` put the object in another store than the task's: that store's name. */
  store?: string;
  attempts: number;
  finalUrl: string;
}

/** Details attached to a failed download attempt (ApplicationFailure details[0]). */
export interface DownloadFailureDetails {
  kind: string;
  httpStatus?: number;
  attempt: number;
}
