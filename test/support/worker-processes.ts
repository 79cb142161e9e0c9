import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { inject } from 'vitest';
import { projectRoot } from '../../src/temporal/temporal-cli.js';
import { waitFor } from './wait-for.js';

/** How much of each worker's output is kept: enough for its last log lines and a crash's stack. */
const OUTPUT_TAIL_BYTES = 16 * 1024;

/**
 * The settings every `fetchbox worker` process of a test gets: the run's Temporal and workflow
 * bundle, loopback downloads, no metrics port, warnings only; `extra` adds or overrides any.
 */
export function workerEnv(taskQueue: string, storageUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: taskQueue,
    FETCHBOX_STORAGE_URL: storageUrl,
    FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.0/8',
    FETCHBOX_WORKER_METRICS_PORT: '-1',
    FETCHBOX_LOG_LEVEL: 'warn',
    FETCHBOX_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    ...extra,
  };
}

/** How `killWhileProgressing` decides when to kill. */
export interface KillPlan {
  /** How many workers to SIGKILL (a new one starts after each kill). */
  kills: number;
  /** A count that grows while the job makes progress (requests the origin received for it, say). */
  progress: () => number;
  /** How much `progress()` must grow on a worker before it is killed. */
  step: number;
  /** Also required before the first kill (say, that every page of the job is loaded). */
  ready?: () => boolean;
  /** How long one worker may take to make its `step` of progress. */
  timeoutMs: number;
}

/**
 * `fetchbox worker` processes a crash test starts and SIGKILLs (or another worker script, such as
 * test/support/store-worker.mjs). Each keeps the tail of its output (its log lines, JSON on
 * stdout at FETCHBOX_LOG_LEVEL, and stderr), so a job that stalls after the kills says why (a
 * worker that died at start, an error loop) instead of only timing out.
 */
export class WorkerProcesses {
  private readonly workers: { process: ChildProcess; output: string }[] = [];

  /** `script`: the worker's entry and arguments (default `bin/fetchbox.js worker`). */
  constructor(private readonly script: string[] = [path.join(projectRoot, 'bin', 'fetchbox.js'), 'worker']) {}

  /** Starts a worker with `env` over this process's environment. */
  start(env: Record<string, string>): ChildProcess {
    const child = spawn(process.execPath, this.script, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const entry = { process: child, output: '' };
    const keep = (chunk: string) => void (entry.output = (entry.output + chunk).slice(-OUTPUT_TAIL_BYTES));
    child.stdout!.setEncoding('utf8').on('data', keep);
    child.stderr!.setEncoding('utf8').on('data', keep);
    this.workers.push(entry);
    return child;
  }

  /** SIGKILLs a worker and waits until it is gone. */
  async kill(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /**
   * Starts a worker, then `plan.kills` times: waits until the job progressed by `plan.step` on it
   * (and, the first time, until `plan.ready()`), SIGKILLs it and starts the next. A kill on a clock
   * instead can land on a worker still starting (testing nothing), before the job has loaded its
   * pages (an I/O activity lost with its worker waits out its heartbeat timeout, see
   * chaos.test.ts), or after the job finished on a fast machine. Returns the worker left running.
   */
  async killWhileProgressing(env: Record<string, string>, plan: KillPlan): Promise<ChildProcess> {
    let worker = this.start(env);
    for (let kill = 0; kill < plan.kills; kill++) {
      const from = plan.progress();
      await waitFor(
        `kill ${kill + 1} of ${plan.kills}: progress of ${plan.step} on the newest worker`,
        () => plan.progress() - from >= plan.step && (kill > 0 || !plan.ready || plan.ready()),
        { timeoutMs: plan.timeoutMs, report: () => `progress ${plan.progress() - from}\n${this.report()}` },
      );
      await this.kill(worker);
      worker = this.start(env);
    }
    return worker;
  }

  /**
   * Waits until `inActivity()` says `worker` is inside the activity under test (an origin saw its
   * request, say), SIGKILLs it and starts a replacement with `env`. Returns when the kill happened.
   */
  async killDuring(
    worker: ChildProcess,
    env: Record<string, string>,
    what: string,
    inActivity: () => boolean,
    timeoutMs = 60_000,
  ): Promise<number> {
    await waitFor(what, inActivity, { timeoutMs, report: () => this.report() });
    await this.kill(worker);
    const killedAt = Date.now();
    this.start(env);
    return killedAt;
  }

  /** Each worker's exit and the tail of its output, for a failure message. */
  report(): string {
    return this.workers
      .map(
        ({ process: p, output }, i) =>
          `worker ${i + 1} (pid ${p.pid}, exit ${p.exitCode ?? p.signalCode ?? 'running'}):\n${output.trim() || '(no output)'}`,
      )
      .join('\n---\n');
  }

  /** SIGKILLs every worker still running (afterAll). */
  killAll(): void {
    for (const { process: p } of this.workers) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
}
