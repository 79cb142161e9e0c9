import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { ConfigError, loadConfig } from '../config/load-config.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import { TemporalSettingsError } from '../temporal/connection-options.js';
import { createLogger } from '../observability/logger.js';
import { isSupportedNode, SUPPORTED_NODE } from './node-version.js';

/**
 * `fetchbox <command> --help` for the long-running commands (dev, api, worker): what each runs and
 * the settings an operator reaches for first. `jobs` and `failures` print their own usage.
 */
const COMMAND_USAGE = {
  dev: `Usage: fetchbox dev [--handlers <module>[,<module>...]]

Everything on one machine: a Temporal dev server with its Web UI (SQLite in $FETCHBOX_DATA_DIR),
a worker, the API and file storage. Ctrl-C stops all of it.

--handlers <module>[,<module>...] (or FETCHBOX_HANDLERS): handler modules loaded beside the
built-in handlers, each a path relative to the working directory or a package name resolved
from it; the worker runs them, the API accepts their names (docs/handlers.md).

Settings used most (docs/configuration.md lists every one):
  FETCHBOX_DATA_DIR            where the dev server's SQLite file and the objects live (./data)
  FETCHBOX_API_PORT            API port (3000)
  FETCHBOX_STORAGE_URL         file://... or s3://bucket/prefix (file://$FETCHBOX_DATA_DIR/objects)
  FETCHBOX_TEMPORAL_RETENTION  how long closed jobs stay readable and retryable (72h)
  FETCHBOX_JOB_CONCURRENCY     downloads in flight per job (16)
`,
  api: `Usage: fetchbox api [--handlers <module>[,<module>...]]

The HTTP API only (stateless; run several behind a load balancer). It reaches Temporal at
TEMPORAL_ADDRESS (or a temporal.toml profile) and the storage at FETCHBOX_STORAGE_URL.

--handlers <module>[,<module>...] (or FETCHBOX_HANDLERS): handler modules loaded beside the
built-in handlers, each a path relative to the working directory or a package name resolved
from it. Give the API the modules the workers run: it checks manifests' handler names
(docs/handlers.md).

Settings used most (docs/configuration.md lists every one):
  FETCHBOX_API_HOST, FETCHBOX_API_PORT   bind address (127.0.0.1:3000)
  FETCHBOX_API_TOKENS                    bearer tokens with scopes; unset: no auth, loopback only
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE   the Temporal frontend and namespace
`,
  worker: `Usage: fetchbox worker [--handlers <module>[,<module>...]]

A worker only: runs job and page workflows and the download activities from TEMPORAL_TASK_QUEUE
(fetchbox). Registers FetchBox's search attributes at start. Drains on SIGTERM.

--handlers <module>[,<module>...] (or FETCHBOX_HANDLERS): handler modules loaded beside the
built-in handlers, each a path relative to the working directory or a package name resolved
from it. A module that cannot be loaded stops the worker with exit code 3 (docs/handlers.md).

Settings used most (docs/configuration.md lists every one):
  FETCHBOX_STORAGE_URL                where bodies are stored
  FETCHBOX_WORKER_SHUTDOWN_GRACE_MS   how long in-flight downloads get on SIGTERM (30000)
  FETCHBOX_FETCH_ALLOW_CIDRS          private ranges the fetcher may reach (none)
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE
`,
} as const;

/** True for commands with a usage of their own in {@link COMMAND_USAGE}. */
function hasCommandUsage(command: string | undefined): command is keyof typeof COMMAND_USAGE {
  return command !== undefined && Object.hasOwn(COMMAND_USAGE, command);
}

// Commands are imported when run: a worker process never loads the API's modules and the API
// never loads the worker's (each module graph costs resident memory for the process's life).

const USAGE = `Usage: fetchbox <command>

Commands:
  dev       Temporal dev server with Web UI, a worker and the API, file storage (fetchbox dev --help)
  api       the HTTP API only (fetchbox api --help)
  worker    a worker only (fetchbox worker --help)
  jobs      submit, get, list, resources, retry, cancel, tail (fetchbox jobs --help)
  failures  failed resources across jobs, by kind and host (fetchbox failures --help)

dev, api and worker take --handlers <module>[,<module>...] (or FETCHBOX_HANDLERS): handler
modules loaded beside the built-in handlers (docs/handlers.md).

Configuration comes from FETCHBOX_* and TEMPORAL_* environment variables, optionally merged
over a YAML or JSON file named by FETCHBOX_CONFIG. See docs/configuration.md.
`;

/** Exit codes scripts can rely on. */
export const ExitCode = { ok: 0, failure: 1, usage: 2, config: 3 } as const;

/** Resolves when SIGINT or SIGTERM arrives; a second signal exits at once. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve(signal);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

/** The commands that run handlers (worker) or check manifests against them (api), and so load handler modules. */
const SERVICE_COMMANDS: readonly string[] = ['dev', 'api', 'worker'];

/**
 * The registry a service runs with: the built-in handlers plus the modules `--handlers` names
 * (replacing FETCHBOX_HANDLERS when given). Loaded before anything connects, so a bad module stops
 * the process at once; undefined when there is none to load.
 */
async function loadHandlers(
  flag: string[] | undefined,
  configured: readonly string[],
  logger: Logger,
): Promise<HandlerRegistry | undefined> {
  const { loadHandlerModules, splitModuleList } = await import('../handlers/handler-modules.js');
  const specs = flag !== undefined ? splitModuleList(flag) : [...configured];
  if (specs.length === 0) return undefined;
  const { registry, modules } = await loadHandlerModules(specs);
  logger.info({ modules: modules.map((m) => ({ module: m.module, url: m.url, handlers: m.handlers })) }, 'handler modules loaded');
  return registry;
}

/** Runs a long-lived service until a signal, then closes it. */
async function serveUntilSignal(start: () => Promise<{ close(): Promise<void> }>): Promise<number> {
  const running = await start();
  await untilSignal();
  process.stderr.write('fetchbox: stopping...\n');
  await running.close();
  return ExitCode.ok;
}

/** The `fetchbox` command line; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: { help: { type: 'boolean', short: 'h' }, handlers: { type: 'string', multiple: true } },
  });
  const [command] = positionals;
  // `fetchbox jobs --help` and `fetchbox jobs submit --help` are the jobs usages (jobs-command.ts), not this one.
  if (command === 'jobs') return (await import('./jobs-command.js')).jobsCommand(argv.slice(argv.indexOf('jobs') + 1));
  if (command === 'failures') return (await import('./failures-command.js')).failuresCommand(argv.slice(argv.indexOf('failures') + 1));
  if (values.help && hasCommandUsage(command)) {
    process.stdout.write(COMMAND_USAGE[command]);
    return ExitCode.ok;
  }
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined && !values.help ? ExitCode.usage : ExitCode.ok;
  }
  // parseArgs in non-strict mode gives `true` for a `--handlers` with no value after it.
  const handlersFlag = values.handlers as (string | boolean)[] | undefined;
  if (handlersFlag?.some((v) => typeof v !== 'string' || v.trim() === '')) {
    process.stderr.write('fetchbox: --handlers needs a module: --handlers ./handlers.js or --handlers my-handlers-package\n');
    return ExitCode.usage;
  }
  // `fetchbox dev` runs its own Temporal server: a temporal.toml profile (the Temporal CLI's, in
  // ~/.config/temporalio) must not point it elsewhere unless asked for (empty = read no file).
  if (command === 'dev' && process.env.TEMPORAL_CONFIG_FILE === undefined && !process.env.TEMPORAL_PROFILE)
    process.env.TEMPORAL_CONFIG_FILE = '';
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`fetchbox: ${err.message}\n`);
      return ExitCode.config;
    }
    throw err;
  }
  const logger = createLogger(config.log.level, { component: command }, config.log.format);
  if (!isSupportedNode(process.versions.node)) {
    logger.warn(
      { node: process.version, supported: SUPPORTED_NODE },
      'this Node.js release is not supported (past its end of life); run through npm scripts or install Node 24',
    );
  }
  try {
    const handlers = SERVICE_COMMANDS.includes(command)
      ? await loadHandlers(handlersFlag as string[] | undefined, config.handlerModules, logger)
      : undefined;
    switch (command) {
      case 'api':
        return await serveUntilSignal(async () => (await import('./run-api.js')).runApi(config, logger, handlers));
      case 'worker':
        return await serveUntilSignal(async () => (await import('./run-worker.js')).runWorker(config, logger, handlers));
      case 'dev':
        return await serveUntilSignal(async () => {
          const dev = await (await import('./run-dev.js')).runDev(config, logger, process.env, handlers);
          process.stderr.write(
            `\nFetchBox dev is up (Node.js ${process.version}):\n  API          ${dev.apiUrl}\n  Temporal UI  ${dev.uiUrl}\n  storage      ${config.storage.url}\n` +
              `${dev.workerMetricsUrl ? `  metrics      ${dev.apiUrl}/metrics (API), ${dev.workerMetricsUrl} (worker)\n` : ''}Ctrl-C stops everything.\n\n`,
          );
          return dev;
        });
      default:
        process.stderr.write(`fetchbox: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
        return ExitCode.usage;
    }
  } catch (err) {
    // A handler module that cannot be used, or a handler's policy naming an unconfigured store.
    if (err instanceof ConfigError || (err as Error | undefined)?.name === 'HandlerModuleError') {
      process.stderr.write(`fetchbox: ${(err as Error).message}\n`);
      return ExitCode.config;
    }
    if (err instanceof TemporalSettingsError) {
      // A Temporal connection setting (TLS file, profile): the setting to fix, no stack trace.
      process.stderr.write(`fetchbox: invalid configuration: ${err.message}\n`);
      return ExitCode.config;
    }
    logger.error({ err }, 'fatal');
    process.stderr.write(`fetchbox: ${(err as Error).message}\n`);
    return ExitCode.failure;
  }
}
