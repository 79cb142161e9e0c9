import type { ChildProcess } from 'node:child_process';
import { vi } from 'vitest';

/** How long {@link waitFor} polls, and what it adds to a failure's message. */
export interface WaitOptions {
  timeoutMs: number;
  /** Between two checks; default 50 ms. */
  intervalMs?: number;
  /** What was seen, for the failure message (worker output, origin tallies). */
  report?: () => string;
  /** Says why waiting longer is pointless (a process exited, say); the wait then fails at once. */
  giveUp?: () => string | undefined;
}

/**
 * The one way a test waits for a state (never a fixed sleep): polls `check` through `vi.waitFor`
 * until it returns a truthy value, and returns that value. A check that throws counts as not yet.
 * On timeout (or `giveUp`) the error names `what`, the last check's error if any, and `report()`.
 */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, options: WaitOptions): Promise<NonNullable<T>> {
  const { timeoutMs, intervalMs = 50, report, giveUp } = options;
  const seen = () => (report ? `\n${report()}` : '');
  let gaveUp: string | undefined;
  const value = await vi.waitFor(
    async () => {
      let value: T | undefined;
      let failure: unknown;
      try {
        value = await check();
      } catch (err) {
        failure = err;
      }
      if (value) return value as NonNullable<T>;
      gaveUp = giveUp?.();
      if (gaveUp !== undefined) return undefined;
      const last = failure === undefined ? '' : ` (last check: ${String(failure)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}${seen()}`, { cause: failure });
    },
    { timeout: timeoutMs, interval: intervalMs },
  );
  if (gaveUp !== undefined) throw new Error(`gave up waiting for ${what}: ${gaveUp}${seen()}`);
  return value!;
}

/** Waits until a child process's `output()` matches `pattern`; fails at once, with the output, if the process exits first. */
export async function waitForOutput(child: ChildProcess, output: () => string, pattern: RegExp | string, timeoutMs: number): Promise<void> {
  const matches = () => (typeof pattern === 'string' ? output().includes(pattern) : pattern.test(output()));
  await waitFor(`${String(pattern)} in the output of ${child.spawnfile} ${child.spawnargs.slice(1).join(' ')}`, matches, {
    timeoutMs,
    intervalMs: 100,
    report: () => output().slice(-8000),
    giveUp: () => (child.exitCode !== null || child.signalCode !== null ? `exited with ${child.exitCode ?? child.signalCode}` : undefined),
  });
}
