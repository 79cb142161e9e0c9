import { ApplicationFailure } from '@temporalio/activity';
import { clipJson } from '../model/failure-rules.js';
import type { DownloadTask, ManifestResource, RejectedResource } from '../model/job-types.js';
import { MAX_MESSAGE_BYTES, MAX_PAGE_TASKS, PAGE_BUDGET_BYTES, worstStateBytes } from '../model/page-budget.js';
import { LoadFailure } from './failures.js';

/** A page's tasks that fit its budgets, and the resources whose tasks did not. */
export interface FittedPage {
  tasks: DownloadTask[];
  rejected: RejectedResource[];
}

/** How fitPage reaches the handler. */
export interface FitPageOptions {
  /** The handler's tasks for some of the page's resources; throws for a handler failure. */
  expand: (resources: ManifestResource[]) => Promise<DownloadTask[]>;
  /** True when the handler maps resource i to task i (no expand hook). */
  oneToOne: boolean;
  /** The key a rejected resource is listed under. */
  keyOf: (r: ManifestResource) => string;
  /** Most tasks beyond the page's resources (the job-wide cap's share); undefined = no cap. */
  maxExtraTasks?: number | undefined;
  /** Turns what `expand` threw for one resource into a message, or rethrows. */
  onResourceError: (err: unknown) => string;
  /**
   * Ask the handler one resource at a time from the start (the whole page's `expand` threw), so
   * a resource whose expansion throws is rejected alone and the rest of the page runs.
   */
  expandEach?: boolean;
}

/**
 * The page's tasks within its budgets: at most {@link MAX_PAGE_TASKS} tasks and
 * {@link PAGE_BUDGET_BYTES} of worst-case states (page-budget.ts), and at most the page's
 * resources plus `maxExtraTasks`. When the handler's tasks for the whole page fit, they are the
 * answer. Otherwise each resource's tasks are taken whole, in page order, while they fit (an
 * expanding handler is asked again, one resource at a time, to know which tasks came from where);
 * a resource whose tasks do not fit is rejected (recorded failed with kind `handler`). Every
 * rejected resource also counts against the budgets, so the page's result always fits; a page
 * whose resources alone would not fit as failures is not one the API staged (`corrupt_staged_page`).
 */
export async function fitPage(resources: ManifestResource[], options: FitPageOptions): Promise<FittedPage> {
  const capped = options.maxExtraTasks !== undefined && resources.length + options.maxExtraTasks < MAX_PAGE_TASKS;
  const maxCount = capped ? resources.length + options.maxExtraTasks! : MAX_PAGE_TASKS;
  const all = options.expandEach ? [] : await options.expand(resources);
  const cost = (tasks: readonly DownloadTask[]) => tasks.reduce((sum, t) => sum + worstStateBytes(t), 0);
  if (!options.expandEach && all.length <= maxCount && cost(all) <= PAGE_BUDGET_BYTES) return { tasks: all, rejected: [] };

  const rejectCost = resources.map((r) => worstStateBytes({ id: r.id, url: r.url, key: options.keyOf(r) }));
  let restBytes = rejectCost.reduce((a, b) => a + b, 0);
  if (restBytes > PAGE_BUDGET_BYTES) {
    // Not even its resources' failures fit: the API never stages such a page.
    throw ApplicationFailure.create({
      type: LoadFailure.corruptPage,
      message: `staged page of ${resources.length} resources exceeds the page budget`,
      nonRetryable: true,
    });
  }
  let restCount = resources.length;
  let usedBytes = 0;
  let usedCount = 0;
  const tasks: DownloadTask[] = [];
  const rejected: RejectedResource[] = [];
  for (const [i, r] of resources.entries()) {
    restBytes -= rejectCost[i]!;
    restCount--;
    let group: DownloadTask[] | undefined;
    let message: string | undefined;
    if (options.oneToOne && !options.expandEach) group = all[i] ? [all[i]] : [];
    else {
      try {
        group = await options.expand([r]);
      } catch (err) {
        message = options.onResourceError(err);
      }
    }
    if (group) {
      const countFits = usedCount + group.length + restCount <= maxCount;
      const bytesFit = usedBytes + cost(group) + restBytes <= PAGE_BUDGET_BYTES;
      if (countFits && bytesFit) {
        tasks.push(...group);
        usedCount += group.length;
        usedBytes += cost(group);
        continue;
      }
      message =
        !countFits && capped
          ? `handler expansion exceeds limits.maxResourcesPerJob (tasks per job): ${group.length} tasks not taken`
          : `handler expansion exceeds the page budget (${MAX_PAGE_TASKS} tasks, ${PAGE_BUDGET_BYTES} bytes of state per page): ${group.length} tasks not taken`;
    }
    rejected.push({
      id: r.id,
      url: r.url,
      key: options.keyOf(r),
      message: clipJson(message ?? 'handler expansion failed', MAX_MESSAGE_BYTES),
    });
    usedCount++;
    usedBytes += rejectCost[i]!;
  }
  return { tasks, rejected };
}

/**
 * A page's tasks with each storage key (per store) used once: a later task whose key an earlier
 * task of the page already has is not run but rejected (recorded failed with kind `handler`), so
 * one object never stands for two records. Keys used on other pages of the job are caught when
 * the download finds the key holding another resource of the job (download-one.ts).
 */
export function withoutReusedKeys(page: FittedPage): FittedPage {
  const holders = new Map<string, string>();
  const tasks: DownloadTask[] = [];
  const rejected = [...page.rejected];
  for (const task of page.tasks) {
    const slot = `${task.store ?? ''}\n${task.key}`;
    const holder = holders.get(slot);
    if (holder === undefined) {
      holders.set(slot, task.id);
      tasks.push(task);
      continue;
    }
    const message = `storage key ${JSON.stringify(task.key)} is also the key of resource ${JSON.stringify(holder)} of this job`;
    rejected.push({ id: task.id, url: task.url, key: task.key, message: clipJson(message, MAX_MESSAGE_BYTES) });
  }
  return rejected.length === page.rejected.length ? page : { tasks, rejected };
}
