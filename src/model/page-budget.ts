/**
 * The payload budget of one page. Temporal refuses a payload over 2 MB (and warns at 512 KB), and
 * a page's staged resources, its loadPage result, its batches' inputs, its failedTasks result and
 * its PageResult all grow with the page. Every one of them is bounded by the sum of
 * {@link worstStateBytes} over the page's tasks, so the API cuts pages by that sum and loadPage
 * never returns more: no valid manifest or handler expansion can outgrow a payload.
 * Workflow code uses only its constants (src/workflows/page-state.ts, and failure-rules.ts);
 * {@link jsonBytes} measures UTF-8 with Buffer and is called by the API and the activities only.
 */

/** Most worst-case bytes in one page: half of Temporal's 2 MB payload limit, with room to spare. */
export const PAGE_BUDGET_BYTES = 1024 * 1024;

/** Most tasks one page runs, expanded or not (the largest `job.pageSize`): page histories stay small. */
export const MAX_PAGE_TASKS = 5_000;

/** Longest error message kept in a resource's state, in UTF-8 bytes of its JSON string. */
export const MAX_MESSAGE_BYTES = 500;

/** Longest content type kept in a resource's state, in UTF-8 bytes of its JSON string. */
export const MAX_CONTENT_TYPE_BYTES = 200;

/**
 * Most bytes a `store` field adds to a task or state: `,"store":"<name>"` with the longest store
 * name (32 characters of `[a-z0-9_-]`, config/store-settings.ts). A task's store is in its JSON;
 * the API adds this to each resource of a job whose tasks may carry one (staging.ts).
 */
export const MAX_STORE_FIELD_BYTES = 11 + 32;

/**
 * What a state adds beyond its task's id, url, key and store: field names, status, attempts,
 * bytes, sha256 (64), content type (≤ {@link MAX_CONTENT_TYPE_BYTES}), notModified and a store
 * chosen from the response ({@link MAX_STORE_FIELD_BYTES}) for a success (about 420 bytes), or an
 * error (kind, message ≤ {@link MAX_MESSAGE_BYTES}, httpStatus) for a failure, plus the JSON punctuation.
 */
export const STATE_OVERHEAD_BYTES = 640;

/** UTF-8 bytes of a value's JSON (what a Temporal JSON payload carries). */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}

/**
 * Worst-case bytes one task costs a page: its JSON (id, url, key, headers: what loadPage, batches
 * and failedTasks carry) plus the most its state can add (what PageResult carries).
 */
export function worstStateBytes(task: {
  id: string;
  url: string;
  key?: string | undefined;
  headers?: Record<string, string> | undefined;
  store?: string;
}): number {
  return jsonBytes(task) + STATE_OVERHEAD_BYTES;
}

/**
 * Which jobs run their one page inline in the job workflow (JobWorkflowInput.inlineRun): at most
 * this many resources and bytes of resource JSON. The job's input carries the resources, every
 * later run's carry and the job's result carry the page's states, so both stay far below the page
 * budget: 500 worst-case states of 64 KiB of resources are under 400 KiB.
 */
export const INLINE_RUN_LIMITS = { maxResources: 500, maxResourceBytes: 64 * 1024 } as const;
