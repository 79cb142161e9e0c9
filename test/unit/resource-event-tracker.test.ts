import { describe, expect, it } from 'vitest';
import { ResourceEventTracker } from '../../src/api/jobs/resource-event-tracker.js';
import type { ResourceState } from '../../src/model/job-types.js';

const state = (id: string, status: ResourceState['status']): ResourceState => ({
  id,
  url: `http://127.0.0.1/${id}`,
  key: `job/${id}`,
  status,
  attempts: status === 'pending' ? 0 : 1,
  ...(status === 'failed' ? { error: { kind: 'http_status', message: '404', httpStatus: 404 } } : {}),
});
const ids = (events: { id: string; page: number; round: number; status: string }[]) =>
  events.map((e) => `${e.page}/${e.round}:${e.id}:${e.status}`);

describe('ResourceEventTracker', () => {
  it('reports each failure of a running page once, and the rest when it closes', () => {
    const t = new ResourceEventTracker('j', 2, 'failed');
    expect(t.nextUnseen()).toEqual({ page: 0, round: 0 });
    expect(ids(t.running({ page: 0, round: 0 }, [state('a', 'failed'), state('b', 'pending'), state('c', 'succeeded')]))).toEqual([
      '0/0:a:failed',
    ]);
    expect(t.running({ page: 0, round: 0 }, [state('a', 'failed'), state('b', 'pending'), state('c', 'succeeded')])).toEqual([]);
    expect(t.followed()).toEqual([{ page: 0, round: 0 }]);
    const closed = t.closed({ page: 0, round: 0 }, [state('a', 'failed'), state('b', 'failed'), state('c', 'succeeded')]);
    expect(ids(closed)).toEqual(['0/0:b:failed']);
    expect(closed[0]).toMatchObject({
      jobId: 'j',
      page: 0,
      round: 0,
      id: 'b',
      url: 'http://127.0.0.1/b',
      key: 'job/b',
      attempts: 1,
      error: { kind: 'http_status' },
    });
    expect(t.followed()).toEqual([]);
    expect(t.closed({ page: 0, round: 0 }, [state('z', 'failed')])).toEqual([]); // a finished run reports nothing again
    expect(t.running({ page: 0, round: 0 }, [state('z', 'failed')])).toEqual([]);
    expect(t.nextUnseen()).toEqual({ page: 1, round: 0 });
  });

  it('reports successes too with `all`', () => {
    const t = new ResourceEventTracker('j', 1, 'all');
    expect(ids(t.running({ page: 0, round: 0 }, [state('a', 'succeeded'), state('b', 'pending')]))).toEqual(['0/0:a:succeeded']);
    expect(ids(t.closed({ page: 0, round: 0 }, [state('a', 'succeeded'), state('b', 'failed')]))).toEqual(['0/0:b:failed']);
  });

  it('skips followed pages when looking for unseen ones, and waits for them before the next round', () => {
    const t = new ResourceEventTracker('j', 3, 'failed');
    t.running({ page: 0, round: 0 }, []);
    t.running({ page: 1, round: 0 }, []);
    expect(t.nextUnseen()).toEqual({ page: 2, round: 0 });
    t.closed({ page: 2, round: 0 }, [state('x', 'succeeded')]);
    expect(t.nextUnseen()).toBeUndefined(); // pages 0 and 1 still run
    t.closed({ page: 1, round: 0 }, [state('y', 'failed')]);
    t.closed({ page: 0, round: 0 }, [state('w', 'succeeded')]);
    // Round 1 runs only the pages whose round 0 had failures.
    expect(t.nextUnseen()).toEqual({ page: 1, round: 1 });
    expect(t.isFinished({ page: 2, round: 0 })).toBe(true);
    expect(t.isFinished({ page: 1, round: 1 })).toBe(false);
  });

  it('reports a retry round again: failures once more, and successes of resources that failed before', () => {
    const t = new ResourceEventTracker('j', 2, 'failed');
    expect(ids(t.closed({ page: 0, round: 0 }, [state('a', 'failed'), state('b', 'failed'), state('c', 'succeeded')]))).toEqual([
      '0/0:a:failed',
      '0/0:b:failed',
    ]);
    expect(t.nextUnseen()).toEqual({ page: 1, round: 0 });
    t.closed({ page: 1, round: 0 }, [state('d', 'succeeded')]);
    expect(t.nextUnseen()).toEqual({ page: 0, round: 1 });
    expect(ids(t.running({ page: 0, round: 1 }, [state('a', 'succeeded'), state('b', 'pending')]))).toEqual(['0/1:a:succeeded']);
    expect(ids(t.closed({ page: 0, round: 1 }, [state('a', 'succeeded'), state('b', 'failed')]))).toEqual(['0/1:b:failed']);
    expect(t.nextUnseen()).toEqual({ page: 0, round: 2 });
    t.closed({ page: 0, round: 2 }, [state('b', 'succeeded')]);
    expect(t.nextUnseen()).toBeUndefined(); // nothing failed in round 2: no round 3
  });

  it('keeps no per-page key behind the cursor, and no ids of closed pages', () => {
    const t = new ResourceEventTracker('j', 10_000, 'failed');
    for (let page = 0; page < 10_000; page++) {
      expect(t.nextUnseen()).toEqual({ page, round: 0 });
      t.running({ page, round: 0 }, [state(`r${page}`, 'failed')]);
      t.closed({ page, round: 0 }, [state(`r${page}`, 'failed')]);
    }
    expect(t.nextUnseen()).toEqual({ page: 0, round: 1 });
    const internals = t as unknown as { finished: Set<string>; following: Map<string, unknown> };
    expect(internals.finished.size).toBe(0);
    expect(internals.following.size).toBe(0);
    expect(t.isFinished({ page: 9_999, round: 0 })).toBe(true);
  });

  it('a closed run without a result finishes with no events and no next round', () => {
    const t = new ResourceEventTracker('j', 1, 'all');
    t.running({ page: 0, round: 0 }, [state('a', 'failed')]);
    expect(t.closed({ page: 0, round: 0 }, undefined)).toEqual([]);
    expect(t.nextUnseen()).toBeUndefined();
  });
});
