import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JobsExit } from '../../src/cli/jobs-command.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { serveApp, startStack, uniqueJobId, type Stack } from '../support/stack.js';
import { readEvents, type Sse } from '../support/sse.js';
import { waitForOutput } from '../support/wait-for.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let origin: Origin;
let stack: Stack;
let server: { url: string; close(): Promise<void> };
beforeAll(async () => {
  origin = await startOrigin();
  // Pages of 2 resources: a job of 7 runs 4 page workflows, 2 at a time.
  stack = await startStack('file', { FETCHBOX_JOB_PAGE_SIZE: '2' });
  server = await serveApp(stack.app);
});
afterAll(async () => {
  await server?.close();
  await stack?.close();
  await origin?.close();
});
afterEach(() => origin.held.clear()); // a failed test leaves no download held

/** `id@round:status` of each resource event, sorted. */
const settled = (events: Sse[]) =>
  events
    .filter((e) => e.event === 'resource')
    .map((e) => `${e.data.id}@${e.data.round}:${e.data.status}`)
    .sort();

/** 4 successes that take a while and 3 failures (404), interleaved over 4 pages of 2. */
function mixedJob(jobId: string) {
  const ok = (i: number) => ({ id: `ok-${i}`, url: `${origin.url}/slow/${300 * (i + 1)}/10/${jobId}-ok-${i}` });
  const bad = (i: number) => ({ id: `bad-${i}`, url: `${origin.url}/status/404/${jobId}-bad-${i}` });
  return { jobId, resources: [ok(0), bad(0), ok(1), bad(1), ok(2), bad(2), ok(3)] };
}

describe('GET /jobs/{jobId}/events resource events', () => {
  it('sends a resource event for each failed resource as pages report them, none for successes, summaries, then end', async () => {
    const jobId = uniqueJobId('sse-res');
    expect((await stack.submit(mixedJob(jobId))).status).toBe(202);
    const res = await stack.app.request(`/jobs/${jobId}/events`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = await readEvents(res);
    expect(events.at(-1)).toMatchObject({
      event: 'end',
      data: { jobId, status: 'completed_with_failures', resources: { succeeded: 4, failed: 3 } },
    });
    expect(events.filter((e) => e.event === 'end')).toHaveLength(1);
    expect(new Set(events.map((e) => e.event))).toEqual(new Set(['summary', 'resource', 'end']));
    expect(settled(events)).toEqual(['bad-0@0:failed', 'bad-1@0:failed', 'bad-2@0:failed']);
    for (const e of events.filter((x) => x.event === 'resource')) {
      const n = Number(e.data.id.slice(4));
      expect(e.data).toMatchObject({
        jobId,
        page: n, // bad-n is the second resource of page n
        round: 0,
        url: `${origin.url}/status/404/${jobId}-bad-${n}`,
        key: expect.any(String),
        status: 'failed',
        attempts: 1,
        error: { kind: 'http_status', httpStatus: 404 },
      });
    }
    const ids = events.map((e) => e.id);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
    const summaries = events.filter((e) => e.event === 'summary');
    expect(summaries.every((e) => e.data.status === 'running' && e.data.links.self === `/jobs/${jobId}`)).toBe(true);
    // The failures were reported while the job ran (the slow successes keep it running ~1 s).
    const firstFailure = events.findIndex((e) => e.event === 'resource');
    expect(events.slice(firstFailure).some((e) => e.event === 'summary')).toBe(true);
  });

  it('reports successes too with ?resources=all; a closed job gets its resource events, then end', async () => {
    const jobId = uniqueJobId('sse-all');
    await stack.submit(mixedJob(jobId));
    const all = await readEvents(await stack.app.request(`/jobs/${jobId}/events?resources=all`));
    expect(all.at(-1)).toMatchObject({ event: 'end', data: { status: 'completed_with_failures' } });
    expect(settled(all)).toEqual([
      'bad-0@0:failed',
      'bad-1@0:failed',
      'bad-2@0:failed',
      'ok-0@0:succeeded',
      'ok-1@0:succeeded',
      'ok-2@0:succeeded',
      'ok-3@0:succeeded',
    ]);
    expect(all.find((e) => e.data.id === 'ok-3')?.data).toMatchObject({
      jobId,
      page: 3,
      round: 0,
      bytes: 10,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });

    // Closed now: the failures from the ledger (page results), then one summary and end.
    const closed = await readEvents(await stack.app.request(`/jobs/${jobId}/events`));
    expect(closed.map((e) => e.event)).toEqual(['resource', 'resource', 'resource', 'summary', 'end']);
    expect(settled(closed)).toEqual(['bad-0@0:failed', 'bad-1@0:failed', 'bad-2@0:failed']);
    expect(closed.map((e) => e.id)).toEqual([1, 2, 3, 4, 5]);
    expect(closed[3]!.data).toEqual(closed[4]!.data);
    const closedAll = await readEvents(await stack.app.request(`/jobs/${jobId}/events?resources=all`));
    expect(settled(closedAll)).toEqual(settled(all));

    const bad = await stack.app.request(`/jobs/${jobId}/events?resources=some`);
    expect(bad.status).toBe(400);
  });

  it('reports a retry round: the failures of round 0, then the successes of round 1', async () => {
    const jobId = uniqueJobId('sse-retry');
    const names = [`${jobId}-a`, `${jobId}-b`];
    for (const n of names) origin.broken.add(n);
    await stack.submit({
      jobId,
      resources: [
        { id: 'a', url: `${origin.url}/switch/10/${names[0]}` },
        { id: 'fine', url: `${origin.url}/bytes/10/${jobId}` },
        { id: 'b', url: `${origin.url}/switch/10/${names[1]}` },
      ],
    });
    expect(await stack.waitForJob(jobId)).toMatchObject({ status: 'completed_with_failures', resources: { failed: 2 } });
    for (const n of names) origin.broken.delete(n);
    expect((await stack.app.request(`/jobs/${jobId}/retry`, { method: 'POST' })).status).toBe(202);
    const events = await readEvents(await stack.app.request(`/jobs/${jobId}/events`));
    expect(events.at(-1)).toMatchObject({ event: 'end', data: { status: 'completed', resources: { succeeded: 3, failed: 0 } } });
    expect(settled(events)).toEqual(['a@0:failed', 'a@1:succeeded', 'b@0:failed', 'b@1:succeeded']);
    expect(events.find((e) => e.data.id === 'b' && e.data.round === 1)?.data).toMatchObject({ page: 1, status: 'succeeded' });
  });
});

/** The built CLI running, optionally under a pseudo-terminal (`script`): its output so far, and its end. */
function startCli(args: string[], tty: boolean) {
  const node = process.execPath;
  const bin = path.join(projectRoot, 'bin', 'fetchbox.js');
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const [cmd, argv] = tty ? ['script', ['-qfec', [node, bin, ...args].map(quote).join(' '), '/dev/null']] : [node, [bin, ...args]];
  const child = spawn(cmd, argv, { env: { ...process.env, FETCHBOX_API_URL: server.url }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const done = new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
  return {
    done,
    /** Resolves once the output matches `pattern`; fails when the CLI ended first or after 60 s. */
    waitFor: (pattern: RegExp): Promise<void> => waitForOutput(child, () => out, pattern, 60_000),
  };
}

/**
 * mixedJob with its successes held at the origin until the test releases `jobId`: the tail sees the
 * job running however long the CLI takes to start (a job that finished first would leave it only
 * the closed job's replay, and no bar or running line to check).
 */
function heldJob(jobId: string) {
  origin.held.add(jobId);
  origin.held.add(`${jobId}-first`);
  const job = mixedJob(jobId);
  // ok-0 has a gate of its own (`<jobId>-first`): released alone, it changes the counts once more
  // after the CLI has started, whenever the failures settled.
  const gate = (id: string) => (id === 'ok-0' ? `${jobId}-first` : jobId);
  return {
    ...job,
    resources: job.resources.map((r) =>
      r.id.startsWith('ok-') ? { ...r, url: `${origin.url}/hold/10/${gate(r.id)}/${jobId}-${r.id}` } : r,
    ),
  };
}

/** Releases every resource heldJob holds. */
function releaseHeld(jobId: string): void {
  origin.held.delete(jobId);
  origin.held.delete(`${jobId}-first`);
}

describe('fetchbox jobs tail on a terminal and not', () => {
  beforeAll(() => {
    if (!existsSync(path.join(projectRoot, 'dist', 'cli', 'jobs-tail.js')))
      throw new Error('dist/ lacks the CLI: run `npm run build` first');
  });

  it('draws a progress bar with rate and ETA under a pseudo-terminal, failures above it', async () => {
    const jobId = uniqueJobId('tail-tty');
    await stack.submit(heldJob(jobId));
    const cli = startCli(['jobs', 'tail', jobId], true);
    // The failures may all have settled before the CLI's first summary: one more settled resource
    // after its first bar gives it two summaries that differ, so it measures a rate.
    await cli.waitFor(/\r\[[#.]+\] /);
    origin.held.delete(`${jobId}-first`);
    await cli.waitFor(/\d+(\.\d)? res\/s {2}ETA (\d|\?)/); // a measured rate once two summaries came
    releaseHeld(jobId);
    const { code, out } = await cli.done;
    expect(code).toBe(JobsExit.notCompleted);
    expect(out).toMatch(/\r\[[#.]+\] +\d+% {2}\d+\/7 {2}ok \d+ {2}failed \d+ {2}(-|\d+(\.\d)?) res\/s {2}ETA /);
    expect(out).toContain('\x1b[2K');
    for (const n of [0, 1, 2])
      expect(out).toMatch(new RegExp(`\\d\\d:\\d\\d:\\d\\d {2}failed {2}bad-${n} {2}\\S+ {2}\\[http_status 404\\]`));
    expect(out).toMatch(new RegExp(`${jobId} {2}completed_with_failures {2}4/7 ok, 3 failed`));
  });

  it('prints plain lines when stdout is not a terminal', async () => {
    const jobId = uniqueJobId('tail-pipe');
    await stack.submit(heldJob(jobId));
    const cli = startCli(['jobs', 'tail', jobId], false);
    await cli.waitFor(new RegExp(`${jobId} {2}running {2}`));
    releaseHeld(jobId);
    const { code, out } = await cli.done;
    expect(code).toBe(JobsExit.notCompleted);
    expect(out).not.toContain('\r');
    expect(out).not.toContain('\x1b');
    expect(out).not.toContain('res/s');
    const lines = out.trimEnd().split('\n');
    expect(lines.every((l) => /^\d\d:\d\d:\d\d {2}/.test(l))).toBe(true);
    expect(lines.filter((l) => / {2}failed {2}bad-\d /.test(l))).toHaveLength(3);
    expect(lines.at(-1)).toMatch(new RegExp(`${jobId} {2}completed_with_failures {2}4/7 ok, 3 failed`));
  });

  it('--json: one object per event, resource events included', async () => {
    const jobId = uniqueJobId('tail-json');
    await stack.submit(mixedJob(jobId));
    const { code, out } = await startCli(['jobs', 'tail', jobId, '--json'], false).done;
    expect(code).toBe(JobsExit.notCompleted);
    const events = out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; id?: string; status: string });
    expect(
      events
        .filter((e) => e.event === 'resource')
        .map((e) => e.id)
        .sort(),
    ).toEqual(['bad-0', 'bad-1', 'bad-2']);
    expect(events.at(-1)).toMatchObject({ event: 'end', status: 'completed_with_failures' });
  });
});
