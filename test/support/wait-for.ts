import { vi } from 'vitest';

/** How long {@link waitFor} polls, and what it adds to a timeout's message. */
export interface WaitOptions {
  timeoutMs: number;
  /** Between two checks; default 50 ms. */
  intervalMs?: number;
  /** What was seen, for the failure message (worker output, origin tallies). */
  report?: () => string;
}

/**
 * The one way a test waits for a state (never a fixed sleep): polls `check` through `vi.waitFor`
 * until it returns a truthy value, and returns that value. A check that throws counts as not yet.
 * On timeout the error names `what`, the last check's error if any, and `report()`.
 */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, options: WaitOptions): Promise<NonNullable<T>> {
  const { timeoutMs, intervalMs = 50, report } = options;
  return vi.waitFor(
    async () => {
      let value: T;
      try {
        value = await check();
      } catch (err) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what} (last check: ${String(err)})${report ? `\n${report()}` : ''}`,
          {
            cause: err,
          },
        );
      }
      if (!value) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${report ? `\n${report()}` : ''}`);
      return value as NonNullable<T>;
    },
    { timeout: timeoutMs, interval: intervalMs },
  );
}
