import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/temporal/temporal-cli.js';

/** A process the benchmark started: FetchBox's API or worker, or the origin. */
export interface BenchProcess {
  readonly pid: number;
  /** Peak resident memory of the process so far, from /proc (VmHWM), in MiB. */
  peakRssMiB(): number;
  /** SIGTERM, then SIGKILL after 15 s; resolves when the process has exited. */
  stop(): Promise<void>;
}

function wrap(child: ChildProcess): BenchProcess {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid!,
    peakRssMiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kib = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return kib / 1024;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Starts a process and resolves once its stdout or stderr matches `ready` (its match is returned). */
async function start(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ proc: BenchProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, { cwd: projectRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    let out = '';
    let done = false;
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} not ready in 60 s: ${err}`)), 60_000);
    const look = (d: Buffer) => {
      if (done) return;
      out = (out + d.toString()).slice(-8000);
      const m = ready.exec(out);
      if (m) {
        done = true;
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}: ${err}`));
    });
  });
  child.stdout!.resume();
  return { proc: wrap(child), match };
}

/** The loopback origin in its own process; `url` is its base. */
export async function startOriginProcess(): Promise<BenchProcess & { url: string }> {
  const { proc, match } = await start([path.join(projectRoot, 'bench', 'origin-process.mjs')], {}, /listening (\d+)/);
  return Object.assign(proc, { url: `http://127.0.0.1:${match[1]}` });
}

const nodeArgs = (variable: string | undefined) => (variable ?? '').split(/\s+/).filter(Boolean);
/** Extra Node options for the worker, e.g. BENCH_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
const workerNodeArgs = nodeArgs(process.env.BENCH_WORKER_NODE_ARGS);
/** Extra Node options for the API process (BENCH_API_NODE_ARGS). */
const apiNodeArgs = nodeArgs(process.env.BENCH_API_NODE_ARGS);
/** Extra Node options for the `fetchbox dev` process (BENCH_DEV_NODE_ARGS). */
const devNodeArgs = nodeArgs(process.env.BENCH_DEV_NODE_ARGS);

/** `fetchbox worker` (built, from dist) with this environment; resolves when it polls. */
export async function startWorkerProcess(env: Record<string, string>): Promise<BenchProcess> {
  return (
    await start(
      [...workerNodeArgs, path.join(projectRoot, 'bin', 'fetchbox.js'), 'worker'],
      { FETCHBOX_LOG_LEVEL: 'info', ...env },
      /worker running/,
    )
  ).proc;
}

/** `fetchbox api` (built, from dist) with this environment; resolves when it listens. */
export async function startApiProcess(env: Record<string, string>): Promise<BenchProcess & { url: string }> {
  const { proc, match } = await start(
    [...apiNodeArgs, path.join(projectRoot, 'bin', 'fetchbox.js'), 'api'],
    { FETCHBOX_LOG_LEVEL: 'info', ...env },
    /"url":"(http:[^"]+)"[^\n]*api listening/,
  );
  return Object.assign(proc, { url: match[1]! });
}

/**
 * `fetchbox dev` as a user runs it (`npm run dev`): one process with the worker and the API, and
 * the Temporal dev server (SQLite in the data dir) as its child. Resolves when it printed its API.
 */
export async function startDevProcess(env: Record<string, string>): Promise<BenchProcess & { url: string }> {
  const { proc, match } = await start([...devNodeArgs, path.join(projectRoot, 'bin', 'fetchbox.js'), 'dev'], env, /API\s+(http:\S+)/);
  return Object.assign(proc, { url: match[1]! });
}

/**
 * The floor worker (bench/floor-worker.mjs: a minimal workflow and a no-op activity, FetchBox's
 * worker settings from the same FETCHBOX_WORKER_* variables) polling BENCH_FLOOR_TASK_QUEUE.
 */
export async function startFloorWorkerProcess(env: Record<string, string>): Promise<BenchProcess> {
  return (await start([...workerNodeArgs, path.join(projectRoot, 'bench', 'floor-worker.mjs')], env, /floor worker running/)).proc;
}
