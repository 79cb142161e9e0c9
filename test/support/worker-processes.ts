import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../src/temporal/temporal-cli.js';

/** How much of each worker's output is kept: enough for its last log lines and a crash's stack. */
const OUTPUT_TAIL_BYTES = 16 * 1024;

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
      const until = Date.now() + plan.timeoutMs;
      while (plan.progress() - from < plan.step || (kill === 0 && plan.ready && !plan.ready())) {
        if (Date.now() > until) {
          throw new Error(
            `kill ${kill + 1} of ${plan.kills}: progress ${plan.progress() - from} of ${plan.step} in ${plan.timeoutMs} ms on the newest worker\n${this.report()}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      await this.kill(worker);
      worker = this.start(env);
    }
    return worker;
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
