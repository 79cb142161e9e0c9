import type { Client } from '@temporalio/client';

// The driver of the `many-small` scenarios and of their floor: starts `count` workflows (FetchBox
// jobs through the API, or the floor's minimal workflow straight through Temporal) from a number of
// concurrent submitters or at a steady rate, then waits until every one has closed by counting
// closed executions in visibility (one query per poll, whatever the number of jobs, so waiting adds
// no load per job), and reads each one's close time back in one listing. Submit-to-closed is the
// server's CloseTime minus the moment the submit was sent (same machine, same clock).

/** How one run of the driver submits and what it waits for. */
export interface BurstOptions {
  client: Client;
  count: number;
  /** Concurrent submitters, each sending its next submit when the last was answered (closed loop). */
  submitters: number;
  /** Submits per second, open loop (each sent at its due time, answered or not); overrides `submitters`. */
  rate?: number;
  /** Starts item `i` (POST /jobs, or a workflow start); rejects when the start was refused. */
  submit(i: number): Promise<void>;
  /** The id of the workflow item `i` started, the one whose close ends the item. */
  workflowId(i: number): string;
  /** A visibility query selecting exactly the closed (not continued-as-new) workflows of this run. */
  closedQuery: string;
  /** Gives up after this long, ms. */
  timeoutMs: number;
  /** How often the closed count is read while waiting, ms (250). */
  pollMs?: number;
}

/** One item's timings, epoch ms (sentAt, closedAt) and ms (submitMs). */
export interface ItemTiming {
  workflowId: string;
  sentAt: number;
  /** From sending the submit to its answer. */
  submitMs: number;
  /** The workflow's CloseTime from visibility. */
  closedAt: number;
  /** Visibility's ExecutionStatus name, e.g. `COMPLETED`. */
  status: string;
}

/** A driver run: every item's timings and the span from the first submit to the last close. */
export interface BurstResult {
  items: ItemTiming[];
  /** First submit sent → last workflow closed, seconds. */
  seconds: number;
}

/** The `q` quantile (0..1) of `xs`, nearest rank; 0 for none. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Visibility's closed statuses, as a query clause: closed for good, not continued as new. */
export const CLOSED_CLAUSE = `ExecutionStatus != 'Running' AND ExecutionStatus != 'ContinuedAsNew'`;

/** Submits every item (closed loop or steady rate), then waits for all of them to close. */
export async function runBurst(options: BurstOptions): Promise<BurstResult> {
  const { client, count } = options;
  const sent = new Array<{ sentAt: number; submitMs: number } | undefined>(count);
  const one = async (i: number) => {
    const sentAt = Date.now();
    const t = performance.now();
    await options.submit(i);
    sent[i] = { sentAt, submitMs: performance.now() - t };
  };
  if (options.rate !== undefined) {
    const interval = 1000 / options.rate;
    const started = performance.now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const wait = started + i * interval - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      inflight.push(one(i));
    }
    await Promise.all(inflight);
  } else {
    let next = 0;
    const submitter = async () => {
      while (next < count) await one(next++);
    };
    await Promise.all(Array.from({ length: Math.min(options.submitters, count) }, submitter));
  }

  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const { count: closed } = await client.workflow.count(options.closedQuery);
    if (closed >= count) break;
    if (Date.now() > deadline)
      throw new Error(`${closed} of ${count} workflows closed after ${options.timeoutMs} ms (${options.closedQuery})`);
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250));
  }
  const closedById = new Map<string, { closedAt: number; status: string }>();
  for await (const run of client.workflow.list({ query: options.closedQuery, pageSize: 1000 })) {
    closedById.set(run.workflowId, { closedAt: run.closeTime?.getTime() ?? Number.NaN, status: run.status.name });
  }
  const items: ItemTiming[] = [];
  for (let i = 0; i < count; i++) {
    const workflowId = options.workflowId(i);
    const closed = closedById.get(workflowId);
    if (!closed) throw new Error(`${workflowId} is not among the closed workflows`);
    items.push({ workflowId, ...sent[i]!, ...closed });
  }
  const firstSent = Math.min(...items.map((x) => x.sentAt));
  const lastClosed = Math.max(...items.map((x) => x.closedAt));
  return { items, seconds: (lastClosed - firstSent) / 1000 };
}
