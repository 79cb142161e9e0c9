import { afterEach, describe, expect, it } from 'vitest';
import { HostBroker, type HostCoordinator, type HostPermit } from '../../src/activities/host-broker.js';
import { applyRequest, dropExpired, grantFor, settleGrant, spacingMs } from '../../src/workflows/host-permits.js';
import type { HostCoordinatorState, HostLeaseRequest } from '../../src/model/host-types.js';
import { waitFor } from '../support/wait-for.js';

const LEASE_MS = 300;

/** An in-process stand-in for the coordinator workflow: the same rules, the same bounded wait. */
class FakeCoordinator implements HostCoordinator {
  readonly requests: (HostLeaseRequest & { host: string })[] = [];
  readonly states = new Map<string, HostCoordinatorState>();
  /** The index in `requests` of each request answered, in the order of the answers. */
  readonly answered: number[] = [];
  failing = false;

  async lease(host: string, req: HostLeaseRequest) {
    const index = this.requests.push({ host, ...req }) - 1;
    if (this.failing) throw new Error('temporal unreachable');
    let state = this.states.get(host);
    if (!state) {
      state = { host, limit: req.limit, minDelayMs: 0, pausedUntil: 0, lastRequestAt: 0, leaseMs: req.leaseMs, holders: {} };
      this.states.set(host, state);
    }
    applyRequest(state, req, Date.now());
    const holder = state.holders[req.workerId];
    if (holder && holder.want > holder.granted) {
      const before = holder.granted;
      const until = Date.now() + req.leaseMs / 3;
      while (Date.now() < until && (dropExpired(state, Date.now()), grantFor(state, req.workerId) <= before)) await sleep(5);
    }
    dropExpired(state, Date.now());
    const granted = state.holders[req.workerId] ? grantFor(state, req.workerId) : 0;
    settleGrant(state, req.workerId, granted, Date.now());
    this.answered.push(index);
    return { granted, pausedUntil: state.pausedUntil, spacingMs: spacingMs(state) };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 5 ms for up to 5 s. */
const until = (what: string, check: () => boolean) => waitFor(what, check, { timeoutMs: 5_000, intervalMs: 5 });

const brokers: HostBroker[] = [];
function broker(coordinator: HostCoordinator, workerId: string, limit = 2, idleReturnMs?: number): HostBroker {
  const b = new HostBroker({
    limitFor: (host) => (host.startsWith('polite') ? { concurrency: limit, minDelayMs: 0 } : undefined),
    coordinator,
    workerId,
    leaseMs: LEASE_MS,
    ...(idleReturnMs !== undefined ? { idleReturnMs } : {}),
  });
  brokers.push(b);
  return b;
}
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close(500)));
});

/** Runs `count` downloads of `holdMs` each through the brokers in turn, measuring the peak in flight. */
async function downloads(list: HostBroker[], count: number, holdMs: number) {
  let inFlight = 0;
  let peak = 0;
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const permit = await list[i % list.length]!.acquire(`http://polite.example/${i}`);
      inFlight++;
      peak = Math.max(peak, inFlight);
      await sleep(holdMs);
      inFlight--;
      permit.release();
    }),
  );
  return peak;
}

describe('host broker (one per worker process)', () => {
  it('a host without a limit gets its permit at once, and no coordinator is asked', async () => {
    const coordinator = new FakeCoordinator();
    const b = broker(coordinator, 'w1');
    const permits = await Promise.all(Array.from({ length: 100 }, (_, i) => b.acquire(`http://free.example/${i}`)));
    permits.forEach((p) => p.release());
    b.pause('http://free.example/x', Date.now() + 60_000);
    expect(await Promise.race([b.acquire('http://free.example/y').then(() => 'now'), sleep(50).then(() => 'waited')])).toBe('now');
    expect(coordinator.requests).toEqual([]);
  });

  it('holds the limit locally with lease renewals, not a request per download', async () => {
    const coordinator = new FakeCoordinator();
    const b = broker(coordinator, 'w1', 2);
    const peak = await downloads([b], 60, 5);
    expect(peak).toBe(2);
    expect(coordinator.requests.length, 'lease requests for 60 downloads').toBeLessThan(10);
  });

  it('two workers share one limit: never more than the limit at once, and both get permits', async () => {
    const coordinator = new FakeCoordinator();
    const [a, b] = [broker(coordinator, 'a', 3), broker(coordinator, 'b', 3)];
    let inFlight = 0;
    let peak = 0;
    const served = new Map<string, number>();
    await Promise.all(
      Array.from({ length: 80 }, async (_, i) => {
        const who = i % 2 === 0 ? 'a' : 'b';
        const permit = await (who === 'a' ? a : b).acquire(`http://polite.example/${i}`);
        inFlight++;
        peak = Math.max(peak, inFlight);
        served.set(who, (served.get(who) ?? 0) + 1);
        await sleep(10);
        inFlight--;
        permit.release();
      }),
    );
    expect(peak).toBeLessThanOrEqual(3);
    expect(served).toEqual(
      new Map([
        ['a', 40],
        ['b', 40],
      ]),
    );
  });

  it('returns its lease once idle (want 0), and the next download leases again', async () => {
    const coordinator = new FakeCoordinator();
    const b = broker(coordinator, 'w1', 2, 20);
    (await b.acquire('http://polite.example/1')).release();
    await until('the lease returned', () => coordinator.requests.some((r) => r.want === 0 && r.inUse === 0));
    expect(coordinator.states.get('polite.example')!.holders).toEqual({});
    const permit = await b.acquire('http://polite.example/2');
    permit.release();
  });

  it('a Retry-After seen on one worker pauses the host on the others at their next renewal', async () => {
    const coordinator = new FakeCoordinator();
    const [a, b] = [broker(coordinator, 'a', 2), broker(coordinator, 'b', 2)];
    // b keeps a download running so it keeps its lease (and renews it).
    const held = await b.acquire('http://polite.example/held');
    const pauseMs = 600;
    const pausedAt = Date.now();
    a.pause('http://polite.example/429', pausedAt + pauseMs);
    await until('the pause reached the coordinator', () =>
      coordinator.requests.some((r) => r.workerId === 'a' && r.pauseUntil !== undefined),
    );
    const reported = coordinator.requests.length;
    // b's next renewal carries the pause back; its answer is applied as soon as it resolves (the
    // wait's next poll runs after that).
    await until("b's renewal after the pause to be answered", () =>
      coordinator.answered.some((i) => i >= reported && coordinator.requests[i]!.workerId === 'b'),
    );
    const started = Date.now();
    const permit = await b.acquire('http://polite.example/next');
    expect(Date.now(), 'b started no download before the pause ended').toBeGreaterThanOrEqual(pausedAt + pauseMs - 5);
    expect(Date.now() - started).toBeGreaterThan(50);
    permit.release();
    held.release();
  });

  it('a waiting download whose signal aborts is dropped from the queue', async () => {
    const coordinator = new FakeCoordinator();
    const b = broker(coordinator, 'w1', 1);
    const first = await b.acquire('http://polite.example/1');
    const controller = new AbortController();
    const waiting = b.acquire('http://polite.example/2', controller.signal);
    controller.abort(new Error('canceled'));
    await expect(waiting).rejects.toThrow('canceled');
    first.release();
    const next: HostPermit = await b.acquire('http://polite.example/3');
    next.release();
  });

  it('while the coordinator cannot be reached, no download starts once the lease has run out', async () => {
    const coordinator = new FakeCoordinator();
    const b = broker(coordinator, 'w1', 2);
    const running = await b.acquire('http://polite.example/1');
    coordinator.failing = true;
    await sleep(LEASE_MS + 50);
    const outcome = await Promise.race([b.acquire('http://polite.example/2').then(() => 'granted'), sleep(LEASE_MS).then(() => 'waiting')]);
    expect(outcome).toBe('waiting');
    coordinator.failing = false;
    running.release();
  });
});
