import type { Logger } from 'pino';
import type { StoreRegistry } from './store-registry.js';

/** Most partials one sweep looks at per store: bounded work, whatever was left behind. */
export const SWEEP_MAX_ENTRIES = 1_000;

/** What the sweeper reports to: the worker's `fetchbox_partial_bytes` gauge, by store. */
export interface PartialBytesGauge {
  set(labels: { store: string }, bytes: number): void;
}

/** How the sweeper runs; from `storage.partialMaxAgeMs` and `storage.partialSweepIntervalMs`. */
export interface PartialSweeperOptions {
  stores: StoreRegistry;
  maxAgeMs: number;
  intervalMs: number;
  gauge?: PartialBytesGauge | undefined;
  logger?: Logger | undefined;
  /** Per sweep and store; {@link SWEEP_MAX_ENTRIES} by default (tests lower it). */
  maxEntries?: number;
}

/** A running sweeper: `sweep()` runs one sweep now (tests); `stop()` ends the timer and waits for a sweep in progress. */
export interface PartialSweeper {
  sweep(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Bounds what partial downloads hold: every store with resumable writes is swept at start and every
 * `intervalMs`, each sweep removing partials untouched for `maxAgeMs` (their resource failed on a
 * worker that died, or their job was canceled) among at most `maxEntries` of them, continuing where
 * the previous sweep stopped. When a pass over a store's partials ends, the bytes they hold are
 * reported to the gauge. Errors are logged, never thrown: a store that is down is swept next time.
 */
export function startPartialSweeper(options: PartialSweeperOptions): PartialSweeper {
  const { stores, maxAgeMs, intervalMs, gauge, logger } = options;
  const maxEntries = options.maxEntries ?? SWEEP_MAX_ENTRIES;
  const passes = new Map<string, { cursor?: string | undefined; bytes: number }>();
  let running: Promise<void> = Promise.resolve();

  async function sweepStore(name: string): Promise<void> {
    const partials = stores.resolve(name).resumable;
    if (!partials) return;
    const pass = passes.get(name) ?? { bytes: 0 };
    try {
      const result = await partials.sweep({ maxAgeMs, maxEntries, cursor: pass.cursor });
      pass.bytes += result.bytes;
      if (result.removed > 0) logger?.info({ store: name, removed: result.removed }, 'removed abandoned partial downloads');
      if (result.next === undefined) {
        gauge?.set({ store: name }, pass.bytes);
        passes.set(name, { bytes: 0 });
      } else {
        passes.set(name, { cursor: result.next, bytes: pass.bytes });
      }
    } catch (err) {
      logger?.warn({ store: name, err: (err as Error).message }, 'partial download sweep failed; retried at the next sweep');
    }
  }

  const sweep = (): Promise<void> => {
    running = running.then(async () => {
      for (const name of stores.names()) await sweepStore(name);
    });
    return running;
  };
  void sweep();
  const timer = setInterval(() => void sweep(), intervalMs);
  timer.unref();
  return {
    sweep,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
