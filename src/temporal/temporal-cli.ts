import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { searchAttributeFlags } from '../model/search-attributes.js';

/**
 * The Temporal server settings FetchBox's priority and fairness need (server 1.29): both are off by
 * default there. `matching.enableFairness` dispatches each priority level's tasks in proportion to
 * their fairness keys' weights and implies `matching.useNewMatcher`, the priority-aware matcher that
 * orders tasks by priority key; both are listed so the intent reads the same in every place.
 * `fetchbox dev` and the test suite pass them as flags (with {@link DEV_SERVER_DYNAMIC_CONFIG}), the
 * cluster suite writes them into its dynamicconfig.yaml, and docs/deployment.md lists them for operators.
 */
export const PRIORITY_DYNAMIC_CONFIG = {
  'matching.useNewMatcher': true,
  'matching.enableFairness': true,
} as const;

/**
 * What `fetchbox dev` (and the test suite) run their dev server with: priority and fairness, and one
 * partition per task queue. Temporal orders tasks by priority and balances fairness keys within a
 * partition; with the default four, a worker's poll lands on a random partition and can take a
 * lower-priority task from it while a higher-priority one waits on another. One machine and one
 * worker gain nothing from partitions, so the dev server keeps one and its ordering is exact. A
 * cluster keeps Temporal's default (docs/deployment.md).
 */
export const DEV_SERVER_DYNAMIC_CONFIG = {
  ...PRIORITY_DYNAMIC_CONFIG,
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
} as const;

/** {@link DEV_SERVER_DYNAMIC_CONFIG} as `temporal server start-dev` flags (`--dynamic-config-value KEY=JSON`). */
export function dynamicConfigFlags(): string[] {
  return Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]);
}

/** {@link PRIORITY_DYNAMIC_CONFIG} as a server's dynamic config file (YAML: each key a list of constrained values). */
export function dynamicConfigYaml(): string {
  return Object.entries(PRIORITY_DYNAMIC_CONFIG)
    .map(([key, value]) => `${key}:\n  - value: ${JSON.stringify(value)}\n    constraints: {}\n`)
    .join('');
}

/** The project root (two levels above this file in both src/ and dist/). */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** No Temporal CLI could be found; the message says how to get one. */
export class TemporalCliNotFoundError extends Error {
  override readonly name = 'TemporalCliNotFoundError';
  constructor() {
    super(
      'Temporal CLI not found. Run `npm run tools` (builds it with Go into .tools/bin), ' +
        'install it on PATH (e.g. `brew install temporal`), or set FETCHBOX_TEMPORAL_BIN to its path.',
    );
  }
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds a `temporal` binary: FETCHBOX_TEMPORAL_BIN, then the project's `.tools/bin` (what
 * `npm run tools` builds), then PATH. Undefined when there is none.
 */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.FETCHBOX_TEMPORAL_BIN) return executable(env.FETCHBOX_TEMPORAL_BIN) ? env.FETCHBOX_TEMPORAL_BIN : undefined;
  const cached = path.join(projectRoot, '.tools', 'bin', 'temporal');
  if (executable(cached)) return cached;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'temporal');
    if (dir && existsSync(candidate) && executable(candidate)) return candidate;
  }
  return undefined;
}

/** How to start a dev server. */
export interface DevServerOptions {
  binary: string;
  /** SQLite file; omitted means in-memory (tests). */
  dbFile?: string;
  ip?: string;
  port: number;
  uiPort: number;
  /** Serve the Web UI (off in tests that do not need it). */
  ui?: boolean;
  namespace?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Where the server's own output goes; defaults to this process's stderr. */
  stdio?: 'inherit' | 'ignore' | 'pipe';
  /** How long to wait for the frontend to accept connections. */
  startTimeoutMs?: number;
}

/** A running dev server; `stop()` ends it and waits for it to exit. */
export interface DevServer {
  address: string;
  uiUrl: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** True when something accepts TCP connections on host:port. */
export function portAnswers(host: string, port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = createConnection({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Resolves once a TCP connect to host:port succeeds, or rejects after timeoutMs. */
export async function waitForPort(host: string, port: number, timeoutMs: number, exited?: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await portAnswers(host, port)) return;
    const why = exited?.();
    if (why) throw new Error(why);
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts `temporal server start-dev` with FetchBox's search attributes registered and task queue
 * priority and fairness on ({@link DEV_SERVER_DYNAMIC_CONFIG}), and waits until its frontend accepts connections.
 * Used by `fetchbox dev` and by the test suite, so tests run on the server `fetchbox dev` runs.
 */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(opts.port),
    '--ui-port',
    String(opts.uiPort),
    '--namespace',
    opts.namespace ?? 'default',
    '--log-level',
    opts.logLevel ?? 'warn',
    ...(opts.dbFile ? ['--db-filename', opts.dbFile] : []),
    ...(opts.ui === false ? ['--headless'] : []),
    ...searchAttributeFlags.flatMap((flag) => ['--search-attribute', flag]),
    ...dynamicConfigFlags(),
  ];
  for (const port of [opts.port, ...(opts.ui === false ? [] : [opts.uiPort])]) {
    if (await portAnswers(ip, port)) {
      throw new Error(`${ip}:${port} is already in use (another Temporal server or fetchbox dev?); stop it or choose other ports`);
    }
  }
  const child = spawn(opts.binary, args, { stdio: ['ignore', opts.stdio ?? 'inherit', opts.stdio ?? 'inherit'] });
  // A crash of this process must not leave the server running.
  const killChild = () => child.kill('SIGKILL');
  process.once('exit', killChild);
  let exitReason: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitReason = `temporal server exited early (code ${code}, signal ${signal}); its output above says why (a port in use: ${opts.port}, ${opts.uiPort}?)`;
      resolve();
    });
  });
  child.once('error', (err) => {
    exitReason = `cannot run ${opts.binary}: ${err.message}`;
  });
  try {
    await waitForPort(ip, opts.port, opts.startTimeoutMs ?? 60_000, () => exitReason);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    address: `${ip}:${opts.port}`,
    uiUrl: `http://${ip}:${opts.uiPort}`,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.off('exit', killChild);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
