import { ResourceStatus } from '../../model/constants.js';
import { type ResourceState } from '../../model/job-types.js';

/** Which resources a job's event stream reports: failures (the default) or every settled resource. */
export const ResourceEventFilter = {
  failed: 'failed',
  all: 'all',
} as const;
export type ResourceEventFilter = (typeof ResourceEventFilter)[keyof typeof ResourceEventFilter];

/** One page workflow run of a job: page `page` in retry round `round` (0: the first pass). */
export interface PageRunRef {
  page: number;
  round: number;
}

/** A `resource` event's data: a resource's state as it settled in one page round. */
export interface ResourceEvent extends ResourceState {
  jobId: string;
  page: number;
  round: number;
}

const keyOf = ({ page, round }: PageRunRef): string => `${page}/${round}`;

/** The first index of sorted `list` whose value is not below `value`. */
function lowerBound(list: readonly number[], value: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A page run seen running: the ids it has reported so far (at most the page's resources). */
interface Followed {
  ref: PageRunRef;
  reported: Set<string>;
}

/**
 * What one event stream has reported, so each resource is reported once per page round. Pure (no
 * I/O): the stream feeds it running page runs' live states and closed runs' results, and asks
 * it which page run to look at next. Memory is bounded by the runs being followed (a set of
 * reported ids each, dropped when the run closes) plus a key per finished page run ahead of the
 * current round's cursor (those behind it need none).
 *
 * Which page runs exist follows the job workflow's order: round 0 starts pages 0, 1, 2, ... in
 * order; retry round r+1 starts, in ascending order, the pages whose round r had failures, and
 * only after every page of round r closed. So the first page of the current round that is neither
 * followed nor finished is the only one that may have started and closed unseen; when it does
 * not exist yet, no later one does.
 */
export class ResourceEventTracker {
  private readonly following = new Map<string, Followed>();
  private readonly finished = new Set<string>();
  /** Pages of a round whose run ended with failures: the queue of the next round. */
  private readonly failedPages = new Map<number, number[]>();
  private round = 0;
  /** The current round's pages in start order; `undefined` in round 0 (every page, 0 to pageCount - 1). */
  private queue: number[] | undefined;
  /** Index in `queue` before which every page run is finished. */
  private cursor = 0;

  constructor(
    private readonly jobId: string,
    private readonly pageCount: number,
    private readonly filter: ResourceEventFilter,
  ) {}

  /** The page runs seen running and not yet closed. */
  followed(): PageRunRef[] {
    return [...this.following.values()].map((f) => f.ref);
  }

  /** Whether a page run closed and was reported in full (behind the cursor, or marked finished). */
  isFinished(ref: PageRunRef): boolean {
    if (ref.round < this.round) return true;
    if (ref.round === this.round) {
      const at = this.queue ? lowerBound(this.queue, ref.page) : ref.page;
      if (at < this.cursor && this.pageAt(at) === ref.page) return true;
    }
    return this.finished.has(keyOf(ref));
  }

  /** A running page run's live states: the settled ones not reported before (and it is followed). */
  running(ref: PageRunRef, states: readonly ResourceState[]): ResourceEvent[] {
    const key = keyOf(ref);
    if (this.isFinished(ref)) return [];
    let followed = this.following.get(key);
    if (!followed) {
      followed = { ref: { page: ref.page, round: ref.round }, reported: new Set() };
      this.following.set(key, followed);
    }
    return this.report(followed, states);
  }

  /**
   * A closed page run's final states (`undefined`: it left no result, e.g. terminated): what was
   * not reported yet. Its reported ids are then forgotten; the run is finished.
   */
  closed(ref: PageRunRef, states: readonly ResourceState[] | undefined): ResourceEvent[] {
    const key = keyOf(ref);
    if (this.isFinished(ref)) return [];
    const followed = this.following.get(key) ?? { ref, reported: new Set<string>() };
    const events = states ? this.report(followed, states) : [];
    this.following.delete(key);
    this.finished.add(key);
    if (states?.some((s) => s.status === ResourceStatus.failed)) {
      const pages = this.failedPages.get(ref.round) ?? [];
      pages.push(ref.page);
      this.failedPages.set(ref.round, pages);
    }
    return events;
  }

  /**
   * The next page run to look at: the first of the current round that is neither followed nor
   * finished. Moves on to the next round once every page of this one finished; `undefined` when
   * the current round still has followed runs, or when no further round can run.
   */
  nextUnseen(): PageRunRef | undefined {
    for (;;) {
      // Finished runs behind the cursor need no key of their own: the cursor says they finished.
      while (this.cursor < this.queueLength() && this.finished.delete(keyOf({ page: this.pageAt(this.cursor), round: this.round })))
        this.cursor++;
      let waiting = false;
      for (let i = this.cursor; i < this.queueLength(); i++) {
        const ref = { page: this.pageAt(i), round: this.round };
        const key = keyOf(ref);
        if (this.following.has(key)) waiting = true;
        else if (!this.finished.has(key)) return ref;
      }
      if (waiting) return undefined;
      const next = this.failedPages.get(this.round);
      if (!next || next.length === 0) return undefined;
      this.failedPages.delete(this.round);
      for (const key of this.finished) if (key.endsWith(`/${this.round}`)) this.finished.delete(key);
      this.round++;
      this.queue = [...next].sort((a, b) => a - b);
      this.cursor = 0;
    }
  }

  private queueLength(): number {
    return this.queue ? this.queue.length : this.pageCount;
  }

  private pageAt(index: number): number {
    return this.queue ? this.queue[index]! : index;
  }

  /**
   * Settled states not reported yet for this run. `failed` reports failures, and in a retry round
   * also successes: every resource of a retry round failed before, so its success is news.
   */
  private report(followed: Followed, states: readonly ResourceState[]): ResourceEvent[] {
    const { page, round } = followed.ref;
    const events: ResourceEvent[] = [];
    for (const state of states) {
      if (state.status === ResourceStatus.pending) continue;
      if (this.filter === ResourceEventFilter.failed && state.status !== ResourceStatus.failed && round === 0) continue;
      if (followed.reported.has(state.id)) continue;
      followed.reported.add(state.id);
      events.push({ jobId: this.jobId, page, round, ...state });
    }
    return events;
  }
}
