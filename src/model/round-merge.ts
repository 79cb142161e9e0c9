/**
 * How retry rounds combine: a page's counts into the job's counts, and a page's per-resource states
 * across its rounds. Pure and deterministic (no I/O, no clock): the job workflow, the API's live
 * summary, the resource listing and the `failedTasks` activity all use these, so they agree.
 */
import { ResourceStatus } from './constants.js';
import { type JobCarry, type PageResult, type ResourceState } from './job-types.js';

/** What a page round adds to the job's counts (running or finished: the same rule for both). */
export interface RoundCountsDelta {
  succeeded: number;
  failed: number;
  bytes: number;
}

/**
 * What one page round changes in the job's counts. Successes and bytes add up. A first round
 * (round 0) adds its failures; a retry round only runs resources that were already counted as
 * failed, so its failures change nothing and each of its successes is one failure fewer.
 */
export function roundCountsDelta(page: { round: number; succeeded: number; failed: number; bytes: number }): RoundCountsDelta {
  return {
    succeeded: page.succeeded,
    failed: page.round === 0 ? page.failed : -page.succeeded,
    bytes: page.bytes,
  };
}

/** The part of the job's carry that page results change. */
export type PageCounts = Pick<JobCarry, 'total' | 'succeeded' | 'failed' | 'bytes' | 'failedPages'>;

/** The part of a page result that the job's counts take. */
export type PageCountsResult = Pick<PageResult, 'page' | 'round' | 'pageResources' | 'tasks' | 'succeeded' | 'failed' | 'bytes'>;

/**
 * Adds a finished page round to the job's carry, in place: a first round also corrects the total
 * by what the handler's expansion added or dropped (`tasks - pageResources`); a page with failures
 * joins `failedPages` (the next retry round's queue). Deterministic: the job workflow and the API's
 * live summary count alike.
 */
export function applyPageResult(carry: PageCounts, result: PageCountsResult): void {
  if (result.round === 0) carry.total += result.tasks - result.pageResources;
  const delta = roundCountsDelta(result);
  carry.succeeded += delta.succeeded;
  carry.failed += delta.failed;
  carry.bytes += delta.bytes;
  if (result.failed > 0) carry.failedPages.push(result.page);
}

/**
 * A page's states after its later rounds, in the order of `base` (its first round, or its staged
 * resources before that ran). A later round's settled state (succeeded or failed) replaces the
 * earlier one and its attempts add to the earlier ones; a pending state (a cancel stopped it)
 * changes nothing; a round that is absent (`undefined`: it never ran for this page) is skipped.
 * A state whose id `base` lacks is appended, so no settled outcome is lost. When ids repeat in
 * `base`, the last of them takes the later rounds' states. Returns a new array; inputs untouched.
 */
export function mergeRoundStates(
  base: readonly ResourceState[],
  laterRounds: readonly (readonly ResourceState[] | undefined)[],
): ResourceState[] {
  const merged = [...base];
  const index = new Map(merged.map((s, i) => [s.id, i]));
  for (const states of laterRounds) {
    for (const s of states ?? []) {
      if (s.status === ResourceStatus.pending) continue;
      const i = index.get(s.id);
      if (i === undefined) {
        index.set(s.id, merged.length);
        merged.push(s);
      } else {
        merged[i] = { ...s, attempts: merged[i]!.attempts + s.attempts };
      }
    }
  }
  return merged;
}
