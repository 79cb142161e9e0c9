import { describe, expect, it } from 'vitest';
import { parseTokens } from '../../src/api/auth.js';
import { CursorSigner } from '../../src/api/cursor.js';
import {
  decodeFailuresCursor as decodeWith,
  encodeFailuresCursor as encodeWith,
  failureMatches,
  hostMatches,
  START,
  type FailuresPosition,
} from '../../src/api/failures/list-failures.js';
import { fanOut } from '../../src/api/fan-out.js';
import { failedJobsQuery, retryCandidatesQuery } from '../../src/api/failures/visibility-query.js';
import type { JobService } from '../../src/api/job-service.js';
import type { FailureFilter } from '../../src/api/failures/failure-views.js';
import { ErrorKind } from '../../src/model/constants.js';
import { testApp } from '../support/app.js';

describe('hostMatches', () => {
  it.each([
    ['https://CDN.example.com/a.jpg', 'cdn.example.com', true],
    ['https://cdn.example.com/a.jpg', 'CDN.Example.COM', true],
    ['https://cdn.example.com:8443/a', 'cdn.example.com', true],
    ['https://cdn.example.com:8443/a', 'cdn.example.com:8443', true],
    ['https://cdn.example.com:8443/a', 'cdn.example.com:443', false],
    ['https://cdn.example.com/a', 'cdn.example.com:443', true],
    ['http://cdn.example.com/a', 'cdn.example.com:80', true],
    ['http://127.0.0.1:9000/x', '127.0.0.1:9000', true],
    ['http://127.0.0.1:9000/x', '127.0.0.1:9001', false],
    ['http://[::1]:8080/x', '[::1]:8080', true],
    ['http://[::1]:8080/x', '::1', true],
    ['https://example.com/a', 'ample.com', false],
    ['https://img.example.com/a', 'example.com', false],
    ['not a url', 'example.com', false],
  ])('%s vs %s → %s', (url, host, expected) => {
    expect(hostMatches(url, host)).toBe(expected);
  });
});

describe('failureMatches', () => {
  const failed = {
    id: 'a',
    url: 'https://x.test/a',
    key: 'k',
    status: 'failed' as const,
    attempts: 3,
    error: { kind: ErrorKind.timeout, message: 'slow' },
  };
  it('matches failed states by kind and host, never other states', () => {
    expect(failureMatches(failed, {})).toBe(true);
    expect(failureMatches(failed, { kind: ErrorKind.timeout, host: 'X.TEST' })).toBe(true);
    expect(failureMatches(failed, { kind: ErrorKind.httpStatus })).toBe(false);
    expect(failureMatches(failed, { host: 'y.test' })).toBe(false);
    expect(failureMatches({ ...failed, status: 'succeeded' }, {})).toBe(false);
    const { error: _none, ...noError } = failed;
    expect(failureMatches(noError, {})).toBe(false);
  });
});

describe('failures cursor', () => {
  const signer = CursorSigner.random();
  const encodeFailuresCursor = (...args: [FailureFilter, FailuresPosition]) => encodeWith(signer, ...args);
  const decodeFailuresCursor = (...args: [FailureFilter, string]) => decodeWith(signer, ...args);
  const filter = { kind: ErrorKind.tooLarge, host: 'a.test' };
  const at = { token: 'AbC_-1', runId: '0194a3c2-7b1e-7000-8000-000000000001', index: 3, page: 2, offset: 17 };

  it('round-trips a position, opaque (base64url)', () => {
    const cursor = encodeFailuresCursor(filter, at);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeFailuresCursor(filter, cursor)).toEqual(at);
    expect(decodeFailuresCursor({}, encodeFailuresCursor({}, START))).toEqual(START);
  });

  it('is bound to its filter (host case aside)', () => {
    const cursor = encodeFailuresCursor(filter, at);
    expect(decodeFailuresCursor({ ...filter, host: 'A.TEST' }, cursor)).toEqual(at);
    expect(() => decodeFailuresCursor({ ...filter, kind: ErrorKind.timeout }, cursor)).toThrow(/other filters/);
    expect(() => decodeFailuresCursor({}, cursor)).toThrow(/other filters/);
  });

  it.each([
    ['garbage', 'not a cursor!'],
    ['base64 of garbage', Buffer.from('hello').toString('base64url')],
    ['JSON of something else', Buffer.from(JSON.stringify({ a: 1 })).toString('base64url')],
    [
      'a negative offset',
      Buffer.from(JSON.stringify({ v: 1, f: '000000000000', t: null, r: null, j: 0, p: 0, o: -1 })).toString('base64url'),
    ],
    ['a /jobs cursor', '1.0'],
    ['an oversized one', 'A'.repeat(5000)],
  ])('refuses %s with 400 invalid_request', (_name, cursor) => {
    try {
      decodeFailuresCursor({}, cursor);
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ status: 400, code: 'invalid_request' });
    }
  });

  it('refuses a tampered field', () => {
    const cursor = encodeFailuresCursor(filter, at);
    const json = JSON.parse(Buffer.from(cursor.slice(0, -43), 'base64url').toString()) as Record<string, unknown>;
    const tampered = Buffer.from(JSON.stringify({ ...json, r: "x' OR 1=1" })).toString('base64url');
    expect(() => decodeFailuresCursor(filter, tampered)).toThrow(/not a cursor/);
    // Its old MAC does not cover the new body.
    expect(() => decodeFailuresCursor(filter, `${tampered}${cursor.slice(-43)}`)).toThrow(/not a cursor/);
  });

  it('refuses a well-formed cursor the server did not sign (forged: the body of a real one, any MAC; another key)', () => {
    const cursor = encodeFailuresCursor(filter, at);
    const forged = `${cursor.slice(0, -43)}${'A'.repeat(43)}`;
    expect(() => decodeFailuresCursor(filter, forged)).toThrow(/not a cursor/);
    expect(() => decodeWith(CursorSigner.random(), filter, cursor)).toThrow(/not a cursor/);
    // The unsigned form the API issued before cursors were signed.
    expect(() => decodeFailuresCursor(filter, cursor.slice(0, -43))).toThrow(/not a cursor/);
  });
});

describe('visibility queries', () => {
  it('lists completed runs with failures, closed within the window, of a handler', () => {
    const q = failedJobsQuery({ since: '2026-11-28T00:00:00.000Z', until: '2026-11-28T01:00:00.000Z', handler: 'default' });
    expect(q).toBe(
      "WorkflowType = 'jobWorkflow' AND ExecutionStatus != 'ContinuedAsNew' AND ExecutionStatus = 'Completed' AND FetchBoxResourcesFailed > 0" +
        " AND FetchBoxHandler = 'default' AND CloseTime >= '2026-11-28T00:00:00.000Z' AND CloseTime <= '2026-11-28T01:00:00.000Z'",
    );
  });

  it('matches retry candidates with failures by status, handler and since (closed, or running and started)', () => {
    const q = retryCandidatesQuery({ status: 'completed_with_failures', handler: "h'x", since: '2026-11-28T00:00:00.000Z' });
    expect(q).toContain("(ExecutionStatus = 'Completed' AND FetchBoxStatus = 'completed_with_failures')");
    expect(q).toContain("FetchBoxHandler = 'hx'");
    expect(q).toContain(
      "(CloseTime >= '2026-11-28T00:00:00.000Z' OR (ExecutionStatus = 'Running' AND StartTime >= '2026-11-28T00:00:00.000Z'))",
    );
    expect(retryCandidatesQuery({})).toBe(
      "WorkflowType = 'jobWorkflow' AND ExecutionStatus != 'ContinuedAsNew' AND FetchBoxResourcesFailed > 0",
    );
  });
});

describe('fanOut', () => {
  it('keeps at most `limit` calls in flight and returns results in order', async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await fanOut([5, 1, 4, 2, 3, 0, 6, 7, 8, 9], 3, async (n) => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, n));
      inFlight--;
      return n * 2;
    });
    expect(results).toEqual([10, 2, 8, 4, 6, 0, 12, 14, 16, 18]);
    expect(peak).toBe(3);
  });

  it('starts nothing more once stop() says so', async () => {
    const started: number[] = [];
    let stop = false;
    const results = await fanOut(
      [1, 2, 3, 4, 5],
      1,
      async (n) => (started.push(n), n === 2 && (stop = true), n),
      () => stop,
    );
    expect(started).toEqual([1, 2]);
    expect(results).toEqual([1, 2, undefined, undefined, undefined]);
  });
});

describe('GET /failures and POST /retries validation', () => {
  const calls: { method: string; args: unknown[] }[] = [];
  const service = new Proxy({} as JobService, {
    get(_t, prop) {
      if (prop === 'temporalUiUrl') return () => 'http://ui';
      if (prop === 'failures')
        return (...args: unknown[]) => (calls.push({ method: 'failures', args }), Promise.resolve({ items: [], next: null }));
      if (prop === 'retryMany') {
        return (...args: unknown[]) => (
          calls.push({ method: 'retryMany', args }),
          Promise.resolve({
            batchId: 'b',
            dryRun: false,
            matched: 1,
            retried: 1,
            skipped: {},
            jobs: [{ jobId: 'a', outcome: 'retrying', status: 'running' }],
          })
        );
      }
      throw new Error(`unexpected service call ${String(prop)}`);
    },
  });
  const tokens = parseTokens(['operator=ops', 'read=viewer']);
  const app = testApp(service, { bodyLimitBytes: 1024, tokens });
  const get = (query: string) => app.request(`/failures${query}`, { headers: { authorization: 'Bearer viewer' } });
  const post = (body: unknown, token = 'ops') =>
    app.request('/retries', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });

  it('passes a normalized filter to the service (times in UTC, limit default 100)', async () => {
    calls.length = 0;
    const res = await get('?since=2026-11-28T02:00:00%2B01:00&until=2026-11-28&kind=too_large&host=CDN.test:8080&handler=default');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ items: [], nextCursor: null });
    expect(calls[0]).toEqual({
      method: 'failures',
      args: [
        {
          since: '2026-11-28T01:00:00.000Z',
          until: '2026-11-28T00:00:00.000Z',
          kind: 'too_large',
          host: 'CDN.test:8080',
          handler: 'default',
        },
        { limit: 100 },
      ],
    });
  });

  it.each([
    ['a kind not in the contract', '?kind=exploded'],
    ['a since that is not ISO 8601', '?since=yesterday'],
    ['an until that is not a time', '?until=2026-13-45T99:00:00Z'],
    ['a limit over 1000', '?limit=1001'],
    ['a limit of 0', '?limit=0'],
    ['a cursor with foreign characters', '?cursor=a.b'],
    ['a host with a path', '?host=a.test/x'],
  ])('400 invalid_request for %s', async (_name, query) => {
    const res = await get(query);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_request' } });
  });

  it('takes jobIds or a filter, not both, not neither', async () => {
    calls.length = 0;
    expect((await post({ jobIds: ['a', 'b'], dryRun: true })).status).toBe(202);
    expect(calls[0]!.args[0]).toEqual({ jobIds: ['a', 'b'], dryRun: true });
    const res = await post({ status: 'completed_with_failures', since: '2026-11-28T00:00:00Z', kind: 'timeout' });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({
      matched: 1,
      retried: 1,
      jobs: [{ jobId: 'a', outcome: 'retrying', links: { self: '/jobs/a' } }],
    });
    expect(calls[1]!.args[0]).toEqual({
      filter: { status: 'completed_with_failures', since: '2026-11-28T00:00:00.000Z', kind: 'timeout' },
    });
    for (const body of [
      {},
      { dryRun: true },
      { jobIds: ['a'], handler: 'default' },
      { jobIds: [] },
      { jobIds: Array.from({ length: 1001 }, (_, i) => `j${i}`) },
      { kind: 'nope' },
      { since: 'last week' },
      { jobId: ['a'] },
    ]) {
      const refused = await post(body);
      expect(refused.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(await refused.json()).toMatchObject({ error: { code: 'invalid_request' } });
    }
    expect(calls).toHaveLength(2);
  });

  it('needs the operator scope to retry and read to list', async () => {
    expect((await post({ jobIds: ['a'] }, 'viewer')).status).toBe(403);
    expect((await app.request('/failures')).status).toBe(401);
    expect((await app.request('/failures', { headers: { authorization: 'Bearer ops' } })).status).toBe(200);
  });
});
