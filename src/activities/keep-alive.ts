import { Context } from '@temporalio/activity';

/** How often a kept-alive activity heartbeats: well inside IO_HEARTBEAT_TIMEOUT (workflows set it). */
export const KEEP_ALIVE_INTERVAL_MS = 5_000;

/**
 * Wraps an activity so it heartbeats every {@link KEEP_ALIVE_INTERVAL_MS} while it runs, with no
 * details. Why: the page and job I/O activities (`publishManifest`, `loadPage`, `failedTasks`)
 * may run long (a handler's listings) but report no progress; with a heartbeat timeout a worker
 * that dies while running one is noticed within that timeout, not after the 5-minute
 * start-to-close, and a canceled page's `loadPage` learns of it (its fetchText aborts).
 * Outside an activity (plain unit calls) it runs the function as it is.
 */
export function keptAlive<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    let context: Context | undefined;
    try {
      context = Context.current();
    } catch {
      return fn(...args);
    }
    const ticker = setInterval(() => context.heartbeat(), KEEP_ALIVE_INTERVAL_MS);
    try {
      return await fn(...args);
    } finally {
      clearInterval(ticker);
    }
  };
}
