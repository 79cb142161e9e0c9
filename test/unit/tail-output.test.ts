import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { JobsExit } from '../../src/cli/jobs-command.js';
import { FetchBoxClient, type JobStatus } from '../../src/client/fetchbox-client.js';
import { resourceLine, tailJob, type TailSummary } from '../../src/cli/jobs-tail.js';

const summary = (status: JobStatus, succeeded: number, failed: number): TailSummary => ({
  jobId: 'j1',
  handler: 'default',
  status,
  resources: { total: 4, succeeded, failed, pending: 4 - succeeded - failed },
  bytes: 0,
  startedAt: '2026-11-28T00:00:00.000Z',
  links: { self: '/jobs/j1', temporalUi: 'http://ui' },
});
const failure = {
  jobId: 'j1',
  page: 0,
  round: 0,
  id: 'gone',
  url: 'http://127.0.0.1/status/404/gone',
  key: 'j1/gone',
  status: 'failed',
  attempts: 1,
  error: { kind: 'http_status', message: 'HTTP 404', httpStatus: 404 },
};

/** The SSE body a running job's stream sends: two summaries, a failure between, then end. */
const stream = [
  ['summary', summary('running', 1, 0)],
  ['resource', failure],
  ['summary', summary('running', 3, 1)],
  ['end', summary('completed_with_failures', 3, 1)],
]
  .map(([event, data], i) => `event: ${event as string}\ndata: ${JSON.stringify(data)}\nid: ${i + 1}\n\n`)
  .join(': keepalive\n\n');

/** The terminal escape character (clear-line sequences start with it). */
const ESC = String.fromCharCode(27);

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** Serves `body` as the events stream on loopback; records the request URLs. */
async function serve(body: string, status = 200): Promise<{ base: string; urls: string[] }> {
  const urls: string[] = [];
  const server = createServer((req, res) => {
    urls.push(req.url ?? '');
    res.writeHead(status, { 'content-type': status === 200 ? 'text/event-stream' : 'application/json' });
    // An event at a time, 30 ms apart, the first split in two as a network may split it.
    const pieces = body.split(/(?<=\n\n)/);
    pieces.splice(0, 1, pieces[0]!.slice(0, 10), pieces[0]!.slice(10));
    const next = () => (pieces.length > 1 ? (res.write(pieces.shift()), setTimeout(next, 30)) : res.end(pieces.shift()));
    next();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, urls };
}

async function tail(base: string, opts: { tty?: boolean; json?: boolean; all?: boolean } = {}) {
  let out = '';
  let err = '';
  const code = await tailJob('j1', {
    client: new FetchBoxClient({ baseUrl: base }),
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    json: opts.json ?? false,
    tty: opts.tty ?? false,
    all: opts.all ?? false,
    columns: 100,
    summaryLine: (s) => `${s.jobId}  ${s.status}  ${s.resources.succeeded}/${s.resources.total} ok, ${s.resources.failed} failed`,
    exits: JobsExit,
    now: (() => {
      let t = 0;
      return () => (t += 1000);
    })(),
  });
  return { code, out, err };
}

describe('fetchbox jobs tail output', () => {
  it('without a terminal: a line per summary and per failed resource, no control characters', async () => {
    const { base, urls } = await serve(stream);
    const { code, out } = await tail(base);
    expect(code).toBe(JobsExit.notCompleted);
    expect(urls).toEqual(['/jobs/j1/events']);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d {2}j1 {2}running {2}1\/4 ok, 0 failed$/);
    expect(lines[1]).toMatch(
      /^\d\d:\d\d:\d\d {2}failed {2}gone {2}http:\/\/127\.0\.0\.1\/status\/404\/gone {2}\[http_status 404\] HTTP 404$/,
    );
    expect(lines[3]).toMatch(/j1 {2}completed_with_failures {2}3\/4 ok, 1 failed$/);
    expect(out).not.toContain('\r');
    expect(out).not.toContain(ESC);
  });

  it('on a terminal: a bar redrawn with \\r (percent, counts, rate, ETA), failures printed above it, the bar gone at the end', async () => {
    const { base } = await serve(stream);
    const { code, out } = await tail(base, { tty: true });
    expect(code).toBe(JobsExit.notCompleted);
    expect(out).toContain('\r[');
    expect(out).toMatch(/\r\[#*\.*\] {3}25% {2}1\/4 {2}ok 1 {2}failed 0 {2}- res\/s {2}ETA \?/);
    // Two summaries a (fake) second apart: 3 settled per second, 0 pending: done.
    expect(out).toMatch(/\r\[#+\] {2}100% {2}4\/4 {2}ok 3 {2}failed 1 {2}\d+(\.\d)? res\/s {2}ETA 0s/);
    // The failure is printed on a cleared line, not after the bar.
    expect(out).toMatch(new RegExp(`\r${ESC}\\[2K\\d\\d:\\d\\d:\\d\\d {2}failed {2}gone `));
    const last = out.slice(out.lastIndexOf('\r\x1b[2K') + 5);
    expect(last).toMatch(/^\d\d:\d\d:\d\d {2}j1 {2}completed_with_failures {2}3\/4 ok, 1 failed\n$/);
  });

  it('--json: one object per event, resource events included; --all asks for every resource', async () => {
    const { base, urls } = await serve(stream);
    const { code, out } = await tail(base, { json: true, all: true });
    expect(code).toBe(JobsExit.notCompleted);
    expect(urls).toEqual(['/jobs/j1/events?resources=all']);
    const events = out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string });
    expect(events.map((e) => e.event)).toEqual(['summary', 'resource', 'summary', 'end']);
    expect(events[1]).toEqual({ event: 'resource', ...failure });
  });

  it('exits 0 for a completed job, 1 when the stream ends early, 4 when refused', async () => {
    const done = await serve(`event: end\ndata: ${JSON.stringify(summary('completed', 4, 0))}\n\n`);
    expect((await tail(done.base)).code).toBe(JobsExit.ok);
    const early = await serve(`event: summary\ndata: ${JSON.stringify(summary('running', 1, 0))}\n\n`);
    const cut = await tail(early.base, { tty: true });
    expect(cut.code).toBe(JobsExit.unavailable);
    expect(cut.err).toMatch(/the event stream ended before the job closed/);
    const refused = await serve(JSON.stringify({ error: { code: 'job_not_found', message: 'no job j1' } }), 404);
    const r = await tail(refused.base);
    expect(r.code).toBe(JobsExit.refused);
    expect(r.err).toMatch(/404 job_not_found: no job j1/);
  });
});

describe('resourceLine', () => {
  it('names the retry round of a resource that settled in one', () => {
    expect(resourceLine({ ...failure, status: 'succeeded', round: 2, error: undefined as never })).toBe(
      'succeeded  gone  http://127.0.0.1/status/404/gone  (retry round 2)',
    );
  });
});
