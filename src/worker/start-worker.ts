import type { Logger } from 'pino';
import type { RunningWorker } from '../cli/run-worker.js';
import type { Config } from '../config/config-schema.js';
import { loadConfig } from '../config/load-config.js';
import { checkHandler, HandlerModuleError, registryWith } from '../handlers/handler-modules.js';
import type { Handler } from '../handlers/handler.js';
import { createLogger } from '../observability/logger.js';

/** What {@link startWorker} runs. */
export interface StartWorkerOptions {
  /** Handlers registered beside the built-in ones; checked as `--handlers` modules are (a name clash throws). */
  handlers?: readonly Handler[];
  /** The configuration; when omitted, loaded as `fetchbox worker` loads it (FETCHBOX_* and TEMPORAL_* variables, FETCHBOX_CONFIG). */
  config?: Config;
  /** A pino logger; when omitted, one at `config.log.level` in `config.log.format`, as the CLI makes. */
  logger?: Logger;
}

/**
 * Runs a FetchBox worker with your handlers from your own code (`import { startWorker } from
 * 'fetchbox'`): what `fetchbox worker --handlers <module>` does, for a team that ships its worker
 * as its own program. Resolves once the worker polls; `close()` drains it. The worker's modules are
 * loaded here, not when `fetchbox` is imported, so a handler module importing `defineHandler` does
 * not load a worker into the API. The API must know the same handler names: run it with
 * `--handlers` naming a module that exports them.
 */
export async function startWorker(options: StartWorkerOptions = {}): Promise<RunningWorker> {
  const config = options.config ?? loadConfig();
  const logger = options.logger ?? createLogger(config.log.level, { component: 'worker' }, config.log.format);
  const handlers = (options.handlers ?? []).map((h: unknown, i) => {
    if (typeof h !== 'object' || h === null)
      throw new HandlerModuleError('startWorker', `handlers[${i}] is not a handler (an object with a name)`);
    return checkHandler('startWorker', `handlers[${i}]`, h as Record<string, unknown>);
  });
  const registry = registryWith([{ source: 'startWorker', handlers }]);
  const { runWorker } = await import('../cli/run-worker.js');
  return runWorker(config, logger, registry);
}
