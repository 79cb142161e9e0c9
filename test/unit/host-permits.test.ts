import { describe, expect, it } from 'vitest';
import { applyRequest, dropExpired, fairTargets, grantFor, settleGrant, spacingMs } from '../../src/workflows/host-permits.js';
import type { HostCoordinatorState, HostLeaseRequest } from '../../src/model/host-types.js';
import { leaseRequests } from '../support/lease-requests.js';

const fresh = (limit: number): HostCoordinatorState => ({
  host: 'h',
  limit,
  minDelayMs: 0,
  pausedUntil: 0,
  lastRequestAt: 0,
  leaseMs: 3000,
  holders: {},
});
const req = leaseRequests(3000);
/** One request answered as the coordinator does (without its wait). */
function ask(state: HostCoordinatorState, r: HostLeaseRequest, now: number): number {
  applyRequest(state, r, now);
  dropExpired(state, now);
  const granted = state.holders[r.workerId] ? grantFor(state, r.workerId) : 0;
  settleGrant(state, r.workerId, granted, now);
  return granted;
}

describe('host permit rules (the coordinator workflow)', () => {
  it('never grants more than the limit in total, counting permits still in use after a grant shrank', () => {
    const s = fresh(2);
    expect(ask(s, req('a', 2), 0)).toBe(2);
    expect(ask(s, req('b', 2), 1)).toBe(0); // a holds both
    // b has waited longest: a's target falls to 1, but its two downloads still run
    expect(ask(s, req('a', 2, 2), 2)).toBe(1);
    expect(ask(s, req('b', 2), 3)).toBe(0); // a still has 2 in use
    expect(ask(s, req('a', 2, 1), 4)).toBe(1); // a reports it is down to 1
    expect(ask(s, req('b', 2), 5)).toBe(1);
    const held = Object.values(s.holders).reduce((n, h) => n + Math.max(h.granted, h.inUse), 0);
    expect(held).toBe(2);
  });

  it('shares the limit round-robin among wanting workers, the longest waiting first', () => {
    const s = fresh(5);
    s.limit = 5;
    for (const [id, want, since] of [
      ['a', 5, undefined],
      ['b', 1, 10],
      ['c', 5, 5],
    ] as const) {
      s.holders[id] = { granted: 0, inUse: 0, want, expiresAt: 1e9, ...(since !== undefined ? { waitingSince: since } : {}) };
    }
    expect(Object.fromEntries(fairTargets(s))).toEqual({ c: 2, b: 1, a: 2 });
    s.limit = 1;
    expect(Object.fromEntries(fairTargets(s))).toEqual({ c: 1, b: 0, a: 0 });
  });

  it("drops a lease not renewed in time: a dead worker's permits come back", () => {
    const s = fresh(1);
    expect(ask(s, req('dead', 1, 0, { limit: 1 }), 0)).toBe(1);
    expect(ask(s, req('live', 1, 0, { limit: 1 }), 100)).toBe(0);
    expect(ask(s, req('live', 1, 0, { limit: 1 }), 3001)).toBe(1);
    expect(Object.keys(s.holders)).toEqual(['live']);
  });

  it('a request wanting nothing with nothing in use returns the lease', () => {
    const s = fresh(1);
    ask(s, req('a', 1, 0, { limit: 1 }), 0);
    ask(s, req('a', 0, 0, { limit: 1 }), 1);
    expect(s.holders).toEqual({});
    expect(ask(s, req('b', 1, 0, { limit: 1 }), 2)).toBe(1);
  });

  it('keeps the latest Retry-After pause and spaces requests by the minimum delay times the workers holding permits', () => {
    const s = fresh(2);
    ask(s, req('a', 1, 0, { pauseUntil: 5000, minDelayMs: 100 }), 0);
    ask(s, req('b', 1, 0, { pauseUntil: 4000, minDelayMs: 100 }), 1);
    expect(s.pausedUntil).toBe(5000);
    expect(spacingMs(s)).toBe(200);
  });
});
