import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { JobService } from '../../src/api/job-service.js';
import { loadConfig } from '../../src/config/load-config.js';
import { builtInHandlers } from '../../src/handlers/registry.js';
import { createStorage } from '../../src/storage/store-registry.js';
import { projectRoot } from '../../src/temporal/temporal-cli.js';
import { content, contentSha256 } from '../support/origin.js';

// SIGTERM to a `fetchbox worker` process mid-job. The origin answers each body after DELAY_MS and
// tells workers apart by User-Agent, so it can say which worker's downloads were still in flight,
// which finished and which were cut off, and how often each resource was requested.

const DELAY_MS = 1500;
const SIZE = 4096;

interface Tally {
  inFlight: number;
  finished: number;
  aborted: number;
}

/** The slow origin: `/<name>` answers `content(name, SIZE)` after DELAY_MS. */
function slowOrigin() {
  const hits = new Map<string, number>();
  const byAgent = new Map<string, Tally>();
  const tally = (agent: string) => byAgent.get(agent) ?? byAgent.set(agent, { inFlight: 0, finished: 0, aborted: 0 }).get(agent)!;
  const server: Server = createServer((req, res) => {
    const name = (req.url ?? '/').slice(1);
    hits.set(name, (hits.get(name) ?? 0) + 1);
    const t = tally(req.headers['user-agent'] ?? '');
    t.inFlight++;
    let done = false;
    const timer = setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) });
      res.end(content(name, SIZE), () => {
        done = true;
        t.inFlight--;
        t.finished++;
      });
    }, DELAY_MS);
    res.on('close', () => {
      clearTimeout(timer);
      if (done) return;
      t.inFlight--;
      t.aborted++;
    });
  });
  return { server, hits, tally, agents: () => byAgent.entries() };
}

let origin: ReturnType<typeof slowOrigin>;
let originUrl: string;
beforeAll(async () => {
  origin = slowOrigin();
  await new Promise<void>((resolve) => origin.server.listen(0, '127.0.0.1', resolve));
  const address = origin.server.address();
  originUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  origin.server.closeAllConnections();
  await new Promise((resolve) => origin.server.close(resolve));
});

/** The JSON log lines of a process's stdout (pino), other lines left out. */
function jsonLines(text: string): Record<string, unknown>[] {
  return text.split('\n').flatMap((line) => {
    try {
      return line.startsWith('{') ? [JSON.parse(line) as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

/** FetchBox's own drain (not the SDK runtime's signal handler) ran: it logs before shutting down. */
function expectDrainLogged(logs: Record<string, unknown>[], graceMs: number): void {
  const draining = logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('worker draining'));
  expect(draining, JSON.stringify(logs.map((l) => l.msg))).toHaveLength(1);
  expect(draining[0]).toMatchObject({ graceMs });
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * One scenario: worker A takes the job, gets SIGTERM mid-job (and a second one
 * `secondSignalAfterMs` later when given), worker B finishes it.
 */
async function drainScenario(graceMs: number, secondSignalAfterMs?: number) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-drain-'));
  const env = {
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `drain-${randomUUID()}`,
    FETCHBOX_STORAGE_URL: `file://${dir}`,
    FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.0/8',
    FETCHBOX_JOB_CONCURRENCY: '4',
    FETCHBOX_JOB_BATCH_SIZE: '1',
    FETCHBOX_JOB_PAGE_PARALLELISM: '1',
    FETCHBOX_RETRY_INITIAL_INTERVAL_MS: '200',
    // A safety net only: a canceled attempt is reported as failed at shutdown and retried at once.
    FETCHBOX_JOB_HEARTBEAT_TIMEOUT_MS: '5000',
    FETCHBOX_WORKER_METRICS_PORT: '-1',
    FETCHBOX_LOG_LEVEL: 'fatal',
    FETCHBOX_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
  };
  const workers: ChildProcess[] = [];
  const start = (agent: string, extra: Record<string, string> = {}) => {
    const w = spawn(process.execPath, [path.join(projectRoot, 'bin', 'fetchbox.js'), 'worker'], {
      env: { ...process.env, ...env, FETCHBOX_FETCH_USER_AGENT: agent, ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    w.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    w.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    workers.push(w);
    // 'close', not 'exit': the last log lines are in the pipe when the process is gone.
    const exited = new Promise<{ code: number | null; at: number; stderr: string; logs: () => Record<string, unknown>[] }>((resolve) => {
      let at = 0;
      w.once('exit', () => (at = Date.now()));
      w.once('close', (code) => resolve({ code, at: at || Date.now(), stderr, logs: () => jsonLines(stdout) }));
    });
    return { process: w, exited };
  };
  const config = loadConfig(env);
  const storage = createStorage(config.storage);
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const app = createApp({
    jobs: new JobService({ client, storage, handlers: builtInHandlers(), config }),
    logger: pino({ level: 'silent' }),
    bodyLimitBytes: 1 << 20,
    checks: [],
  });
  const jobId = `drain-${graceMs}-${randomUUID().slice(0, 8)}`;
  const count = 16;
  const agentA = `worker-a-${jobId}`;
  const agentB = `worker-b-${jobId}`;
  try {
    const res = await app.request('/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jobId,
        resources: Array.from({ length: count }, (_, i) => ({ url: `${originUrl}/${jobId}-${i}`, id: `r${i}` })),
      }),
    });
    expect(res.status).toBe(202);
    const a = start(agentA, {
      FETCHBOX_WORKER_SHUTDOWN_GRACE_MS: String(graceMs),
      FETCHBOX_LOG_LEVEL: process.env.DRAIN_DEBUG ? 'debug' : 'info',
    });
    // Mid-job: A has finished some downloads and has a full window in flight.
    await until('worker A mid-job', () => origin.tally(agentA).finished >= 2 && origin.tally(agentA).inFlight >= 3, 30_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}: origin saw ${JSON.stringify([...origin.agents()])}; worker A exit code ${a.process.exitCode}`);
      },
    );
    const inFlightAtSigterm = origin.tally(agentA).inFlight;
    const finishedAtSigterm = origin.tally(agentA).finished;
    const sigtermAt = Date.now();
    a.process.kill('SIGTERM');
    if (secondSignalAfterMs !== undefined) setTimeout(() => a.process.kill('SIGTERM'), secondSignalAfterMs);
    const b = start(agentB);
    const exit = await a.exited;
    const atExit = { ...origin.tally(agentA) };
    await until(
      'the job to close',
      async () => {
        const s = (await (await app.request(`/jobs/${jobId}`)).json()) as { status: string };
        return s.status !== 'running';
      },
      40_000,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}; A exited ${exit.code} after ${exit.at - sigtermAt} ms, origin ${JSON.stringify([...origin.agents()])}: ${exit.stderr.slice(-3000)}`,
      );
    });
    const summary = (await (await app.request(`/jobs/${jobId}`)).json()) as Record<string, unknown>;
    expect(summary).toMatchObject({ status: 'completed', resources: { total: count, succeeded: count, failed: 0 } });
    for (let i = 0; i < count; i++) {
      const body = await readFile(path.join(dir, jobId, `r${i}-${jobId}-${i}`));
      expect(createHash('sha256').update(body).digest('hex'), `r${i}`).toBe(contentSha256(`${jobId}-${i}`, SIZE));
    }
    b.process.kill('SIGTERM');
    await b.exited;
    const requests = [...origin.hits].filter(([name]) => name.startsWith(`${jobId}-`));
    return { exit, exitAfterMs: exit.at - sigtermAt, inFlightAtSigterm, finishedAtSigterm, atExit, requests };
  } finally {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await connection.close();
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// Above a scenario's own deadlines (30 s to mid-job, 40 s to close): on a slow run theirs is the
// failure reported, with the origin's tallies and worker A's stderr.
describe('worker drain on SIGTERM', { timeout: 120_000 }, () => {
  it('lets in-flight downloads finish within the grace: none is requested twice', async () => {
    const r = await drainScenario(20_000);
    expect(r.exit.code, r.exit.stderr).toBe(0);
    expectDrainLogged(r.exit.logs(), 20_000);
    expect(r.inFlightAtSigterm).toBeGreaterThanOrEqual(3);
    // Everything A had in flight finished before it exited; nothing was cut off.
    expect(r.atExit).toMatchObject({ inFlight: 0, aborted: 0 });
    expect(r.atExit.finished).toBeGreaterThanOrEqual(r.finishedAtSigterm + r.inFlightAtSigterm);
    expect(r.exitAfterMs).toBeLessThan(DELAY_MS + 8_000);
    expect(r.requests).toHaveLength(16);
    expect(r.requests.filter(([, n]) => n > 1)).toEqual([]);
    process.stderr.write(
      `[drain] grace 20 s: exited ${r.exitAfterMs} ms after SIGTERM with ${r.inFlightAtSigterm} in flight, all finished; 16 resources requested once each\n`,
    );
  });

  it('cancels what is still in flight at the end of a short grace; another worker retries it', async () => {
    const r = await drainScenario(200);
    expect(r.exit.code, r.exit.stderr).toBe(0);
    expectDrainLogged(r.exit.logs(), 200);
    expect(r.exitAfterMs).toBeLessThan(DELAY_MS);
    expect(r.atExit.inFlight).toBe(0);
    expect(r.atExit.aborted).toBeGreaterThanOrEqual(r.inFlightAtSigterm);
    // The canceled downloads were requested again (by B), the others once.
    const twice = r.requests.filter(([, n]) => n === 2);
    expect(twice.length).toBeGreaterThanOrEqual(r.inFlightAtSigterm);
    expect(r.requests.filter(([, n]) => n > 2)).toEqual([]);
    process.stderr.write(
      `[drain] grace 200 ms: exited ${r.exitAfterMs} ms after SIGTERM, ${r.atExit.aborted} canceled and retried elsewhere; job byte-exact\n`,
    );
  });

  it('a second SIGTERM during the drain exits at once (143); the job still completes elsewhere', async () => {
    const r = await drainScenario(20_000, 300);
    expect(r.exit.code, r.exit.stderr).toBe(143);
    expectDrainLogged(r.exit.logs(), 20_000);
    // Well before the in-flight downloads (DELAY_MS each) could finish, let alone the 20 s grace.
    expect(r.exitAfterMs).toBeLessThan(DELAY_MS);
    expect(r.requests).toHaveLength(16);
    process.stderr.write(`[drain] second SIGTERM: exited 143 ${r.exitAfterMs} ms after the first; job byte-exact\n`);
  });
});
