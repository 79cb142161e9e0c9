import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A command of the cluster setup failed; carries its output so a failed run says why. */
export class ClusterCommandError extends Error {
  override readonly name = 'ClusterCommandError';
  constructor(
    readonly command: string,
    readonly output: string,
    options?: { cause?: unknown },
  ) {
    super(`${command} failed:\n${output.slice(-4_000)}`, options);
  }
}

/** Runs a command to completion (setup steps: openssl, initdb, the SQL tool); throws with its output. */
export async function run(
  file: string,
  args: readonly string[],
  options: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, [...args], { ...options, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new ClusterCommandError(`${file} ${args.join(' ')}`, `${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
  }
}

/** A server process of the cluster, in its own process group, logging to a file. */
export interface ClusterProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Set once the process has exited (`code`/`signal` as Node reports them). */
  exitReason(): string | undefined;
  /** The last lines of its log (for error messages). */
  logTail(lines?: number): Promise<string>;
  /** Sends `signal` to the whole group, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

const running = new Set<ClusterProcess>();
let exitHookInstalled = false;

/**
 * Spawns a long-running server detached in its own process group (so stopping it also stops its
 * children), stdout and stderr appended to `logFile`. Every process still running when this
 * Node process exits is SIGKILLed, so an aborted run leaves nothing behind.
 */
export function startProcess(
  name: string,
  file: string,
  args: readonly string[],
  logFile: string,
  options: SpawnOptions = {},
): ClusterProcess {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(file, [...args], { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  let reason: string | undefined;
  let stopped = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      reason = `${name} exited (code ${code}, signal ${signal})`;
      resolve();
    });
    child.once('error', (err) => {
      reason = `${name} could not start: ${err.message}`;
      resolve();
    });
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // The group is gone already.
    }
  };
  const proc: ClusterProcess = {
    name,
    child,
    logFile,
    exitReason: () => reason,
    async logTail(lines = 40) {
      const text = await readFile(logFile, 'utf8').catch(() => '');
      return text.split('\n').slice(-lines).join('\n');
    },
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (stopped) return;
      stopped = true;
      if (reason === undefined) {
        signalGroup(signal);
        const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      // Children of a killed leader may outlive it; the group signal reaches them too.
      signalGroup('SIGKILL');
      running.delete(proc);
      await new Promise<void>((resolve) => log.end(resolve));
    },
  };
  running.add(proc);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const p of running)
        if (p.child.pid)
          try {
            process.kill(-p.child.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
    });
  }
  return proc;
}

/** Polls `probe` until it resolves true, failing early when `proc` exits and after `timeoutMs`. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number, proc?: ClusterProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    const exited = proc?.exitReason();
    if (exited) throw new Error(`${what}: ${exited}\n${await proc!.logTail()}`);
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms${proc ? `\n${await proc.logTail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
