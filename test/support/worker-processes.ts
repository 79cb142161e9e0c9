import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../src/temporal/temporal-cli.js';

/** How much of each worker's stderr is kept: enough for its last log lines and a crash's stack. */
const STDERR_TAIL_BYTES = 16 * 1024;

/**
 * `fetchbox worker` processes a crash test starts and SIGKILLs. Each keeps the tail of its stderr,
 * so a job that stalls after the kills says why (a worker that died at start, an error loop)
 * instead of only timing out.
 */
export class WorkerProcesses {
  private readonly workers: { process: ChildProcess; stderr: string }[] = [];

  /** Starts `node bin/fetchbox.js worker` with `env` over this process's environment. */
  start(env: Record<string, string>): ChildProcess {
    const child = spawn(process.execPath, [path.join(projectRoot, 'bin', 'fetchbox.js'), 'worker'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const entry = { process: child, stderr: '' };
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      entry.stderr = (entry.stderr + chunk).slice(-STDERR_TAIL_BYTES);
    });
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

  /** Each worker's exit and the tail of its stderr, for a failure message. */
  report(): string {
    return this.workers
      .map(
        ({ process: p, stderr }, i) =>
          `worker ${i + 1} (pid ${p.pid}, exit ${p.exitCode ?? p.signalCode ?? 'running'}):\n${stderr.trim() || '(no stderr)'}`,
      )
      .join('\n---\n');
  }

  /** SIGKILLs every worker still running (afterAll). */
  killAll(): void {
    for (const { process: p } of this.workers) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
}
