import { describe, expect, it } from 'vitest';
import type { ResourceState } from '../../src/model/job-types.js';
import { applyPageResult, mergeRoundStates, roundCountsDelta, type PageCounts } from '../../src/model/round-merge.js';

const state = (id: string, status: ResourceState['status'], attempts: number, extra: Partial<ResourceState> = {}): ResourceState => ({
  id,
  url: `http://127.0.0.1/${id}`,
  key: `k/${id}`,
  status,
  attempts,
  ...extra,
});

const carry = (): PageCounts => ({ total: 10, succeeded: 0, failed: 0, bytes: 0, failedPages: [] });

describe('applyPageResult', () => {
  it('adds a first round: successes, failures, bytes, the expansion to the total, the page to failedPages', () => {
    const c = carry();
    applyPageResult(c, { page: 3, round: 0, pageResources: 4, tasks: 6, succeeded: 4, failed: 2, bytes: 400 });
    expect(c).toEqual({ total: 12, succeeded: 4, failed: 2, bytes: 400, failedPages: [3] });
  });

  it('counts a retry round success as one failure fewer, and its failures not again', () => {
    const c = carry();
    applyPageResult(c, { page: 1, round: 0, pageResources: 5, tasks: 5, succeeded: 2, failed: 3, bytes: 20 });
    applyPageResult(c, { page: 1, round: 1, pageResources: 0, tasks: 3, succeeded: 2, failed: 1, bytes: 7 });
    expect(c).toEqual({ total: 10, succeeded: 4, failed: 1, bytes: 27, failedPages: [1, 1] });
  });

  it('leaves the total alone in retry rounds and skips failedPages for a page without failures', () => {
    const c = carry();
    applyPageResult(c, { page: 2, round: 2, pageResources: 9, tasks: 1, succeeded: 1, failed: 0, bytes: 5 });
    expect(c).toEqual({ total: 10, succeeded: 1, failed: -1, bytes: 5, failedPages: [] });
  });
});

describe('roundCountsDelta', () => {
  it('is the same rule for a running page (the live summary) as for a finished one', () => {
    expect(roundCountsDelta({ round: 0, succeeded: 3, failed: 2, bytes: 9 })).toEqual({ succeeded: 3, failed: 2, bytes: 9 });
    expect(roundCountsDelta({ round: 1, succeeded: 3, failed: 2, bytes: 9 })).toEqual({ succeeded: 3, failed: -3, bytes: 9 });
  });
});

describe('mergeRoundStates', () => {
  const base = [
    state('a', 'succeeded', 1),
    state('b', 'failed', 3, { error: { kind: 'http_status', message: 'HTTP 500', httpStatus: 500 } }),
    state('c', 'failed', 2),
  ];

  it('returns the base unchanged (a copy) without later rounds', () => {
    const merged = mergeRoundStates(base, []);
    expect(merged).toEqual(base);
    expect(merged).not.toBe(base);
  });

  it('lets a later settled state override, with the attempts of every round added up', () => {
    const merged = mergeRoundStates(base, [[state('b', 'succeeded', 2, { bytes: 5 })], [state('c', 'failed', 4)]]);
    expect(merged.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ['a', 'succeeded', 1],
      ['b', 'succeeded', 5],
      ['c', 'failed', 6],
    ]);
    expect(merged[1]).not.toHaveProperty('error');
    expect(merged[1]!.bytes).toBe(5);
  });

  it('keeps a resource through rounds: failed, failed again, then succeeded', () => {
    const merged = mergeRoundStates(base, [[state('c', 'failed', 3)], undefined, [state('c', 'succeeded', 1)]]);
    expect(merged[2]).toMatchObject({ id: 'c', status: 'succeeded', attempts: 6 });
  });

  it('ignores pending states (a cancel stopped them) and absent rounds', () => {
    const merged = mergeRoundStates(base, [[state('b', 'pending', 0)], undefined]);
    expect(merged).toEqual(base);
  });

  it('does not change its inputs', () => {
    const later = [state('b', 'succeeded', 1)];
    const before = structuredClone(base);
    mergeRoundStates(base, [later]);
    expect(base).toEqual(before);
    expect(later[0]!.attempts).toBe(1);
  });

  it('appends a settled state whose id the base lacks', () => {
    const merged = mergeRoundStates(
      [state('a', 'failed', 1)],
      [[state('z', 'failed', 1), state('a', 'succeeded', 1)], [state('z', 'succeeded', 2)]],
    );
    expect(merged.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ['a', 'succeeded', 2],
      ['z', 'succeeded', 3],
    ]);
  });
});
