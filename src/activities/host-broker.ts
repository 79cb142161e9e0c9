/**
 * The worker-local side of per-host politeness: one broker per worker process holds a lease of
 * permits per limited host from that host's coordinator workflow and hands them to downloads
 * locally, so a download pays no Temporal round trip; only lease renewals do (one per host per
 * worker every third of the lease time while the host is busy). A host without a limit costs one
 * map lookup.
 */
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { hostCoordinatorWorkflow } from '../workflows/host-coordinator-workflow.js';
import { hostLeaseUpdate } from '../model/messages.js';
import { hostCoordinatorId, WorkflowTypes } from '../model/ids.js';
import { hostOf } from '../model/host-of.js';
import type { HostLeaseGrant, HostLeaseRequest } from '../model/host-types.js';
import type { HostLimit } from '../config/host-limits.js';

/** Talks to a host's coordinator: one lease request, answered with the worker's grant. */
export interface HostCoordinator {
  lease(host: string, request: HostLeaseRequest): Promise<HostLeaseGrant>;
}

/** A permit a download holds from before its request until its body is stored or it failed. */
export interface HostPermit {
  /** Gives the permit back (idempotent). */
  release(): void;
}

/** What the download path asks for: a permit per request, and the `Retry-After` pauses it saw. */
export interface HostPermits {
  /** A permit for the URL's host; resolves at once for a host without a limit. Rejects when `signal` aborts first. */
  acquire(url: string, signal?: AbortSignal): Promise<HostPermit>;
  /** A `429`/`503` with `Retry-After` from the URL's host: no download of it starts before `until` (epoch ms), on any worker. */
  pause(url: string, until: number): void;
}

/** What a broker is built from. */
export interface HostBrokerOptions {
  /** The limit of a host (src/config/host-limits.ts), undefined for none. */
  limitFor: (host: string) => HostLimit | undefined;
  coordinator: HostCoordinator;
  /** This worker process, as the coordinators know it. */
  workerId: string;
  /** Lease time; renewed every third of it. */
  leaseMs: number;
  /** How long a host's permits are kept after its last download before they are returned. */
  idleReturnMs?: number;
  logger?: Logger;
  /** Seconds each permit was waited for (only for limited hosts). */
  onWait?: (seconds: number) => void;
  /** Each lease request's outcome (`ok`, `error`). */
  onLease?: (outcome: 'ok' | 'error') => void;
}

/** The permit of a host without a limit: nothing to give back. */
const FREE: HostPermit = Object.freeze({ release() {} });

/** Longest a closing broker waits for its leases to be returned. */
const CLOSE_WAIT_MS = 2_000;

/** Wait before asking again after a failed lease request (Temporal unreachable). */
const LEASE_ERROR_BACKOFF_MS = 1_000;

interface Waiter {
  resolve(permit: HostPermit): void;
  reject(err: unknown): void;
  since: number;
}

/** One limited host on this worker: its lease and the downloads waiting for a permit. */
class HostLane {
  granted = 0;
  inUse = 0;
  /** Local time after which the lease is treated as gone (measured from when its request was sent). */
  expiresAt = 0;
  pausedUntil = 0;
  /** A pause not yet reported to the coordinator. */
  pauseToReport: number | undefined;
  spacingMs = 0;
  lastStart = 0;
  /** The last grant was below the downloads in flight: report once they are down to it. */
  shrinking = false;
  readonly waiters: Waiter[] = [];
  running = false;
  private wakeUp: (() => void) | undefined;
  private pumpTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly host: string,
    readonly limit: HostLimit,
    private readonly broker: HostBroker,
  ) {}

  /** Hands free permits to waiting downloads, in arrival order, respecting a pause and the spacing. */
  pump(): void {
    while (this.waiters.length > 0 && this.inUse < this.granted) {
      const now = Date.now();
      if (now >= this.expiresAt) return;
      const notBefore = Math.max(this.pausedUntil, this.lastStart + this.spacingMs);
      if (now < notBefore) {
        if (!this.pumpTimer) {
          this.pumpTimer = setTimeout(() => ((this.pumpTimer = undefined), this.pump()), notBefore - now);
          this.pumpTimer.unref();
        }
        return;
      }
      this.inUse++;
      this.lastStart = now;
      const waiter = this.waiters.shift()!;
      this.broker.options.onWait?.((now - waiter.since) / 1000);
      waiter.resolve(this.permit());
    }
  }

  private permit(): HostPermit {
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.inUse--;
        this.pump();
        // Tell the coordinator now rather than at the next renewal when the worker shrank to a smaller
        // grant (another worker waits for these permits) or went idle; never per download otherwise.
        if (this.shrinking && this.inUse <= this.granted) {
          this.shrinking = false;
          this.wake();
        } else if (this.inUse === 0 && this.waiters.length === 0) this.wake();
      },
    };
  }

  /** Wants more than it was granted: a download waits for a permit the coordinator has not given yet. */
  starved(): boolean {
    return this.waiters.length > 0 && this.granted < Math.min(this.limit.concurrency, this.inUse + this.waiters.length);
  }

  wake(): void {
    this.wakeUp?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = undefined;
        done();
      };
    });
  }

  /** Keeps the lease while the host is busy, then returns it; one loop per lane at a time. */
  async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { leaseMs, idleReturnMs = Math.min(1_000, leaseMs / 3) } = this.broker.options;
    try {
      for (;;) {
        if (this.broker.closed && this.waiters.length === 0 && this.inUse === 0) break;
        if (this.waiters.length === 0 && this.inUse === 0 && this.pauseToReport === undefined) {
          // Idle: keep the permits a moment for the next download, then give them back.
          await this.sleep(idleReturnMs);
          if (this.waiters.length > 0 || this.inUse > 0) continue;
          if (this.granted > 0) await this.request(0).catch(() => undefined);
          break;
        }
        const want = Math.min(this.limit.concurrency, this.inUse + this.waiters.length);
        const ok = await this.request(want).then(
          () => true,
          () => false,
        );
        this.pump();
        if (!ok) await this.sleep(LEASE_ERROR_BACKOFF_MS);
        else if (this.pauseToReport !== undefined) continue;
        else if (this.starved() && Date.now() >= this.pausedUntil)
          continue; // the coordinator waits for a free permit itself
        else await this.sleep(Math.max(1, Math.floor(leaseMs / 3)));
      }
    } finally {
      this.running = false;
      this.granted = 0;
      this.broker.forget(this);
    }
  }

  private async request(want: number): Promise<void> {
    const { coordinator, workerId, leaseMs, logger, onLease } = this.broker.options;
    const sentAt = Date.now();
    const pauseUntil = this.pauseToReport;
    this.pauseToReport = undefined;
    try {
      const grant = await coordinator.lease(this.host, {
        workerId,
        want,
        inUse: this.inUse,
        limit: this.limit.concurrency,
        minDelayMs: this.limit.minDelayMs,
        leaseMs,
        ...(pauseUntil !== undefined ? { pauseUntil } : {}),
      });
      onLease?.('ok');
      this.granted = grant.granted;
      this.shrinking = grant.granted < this.inUse;
      this.expiresAt = sentAt + leaseMs;
      this.pausedUntil = Math.max(this.pausedUntil, grant.pausedUntil);
      this.spacingMs = grant.spacingMs;
    } catch (err) {
      onLease?.('error');
      if (pauseUntil !== undefined) this.pauseToReport = Math.max(pauseUntil, this.pauseToReport ?? 0);
      logger?.warn({ err, host: this.host }, 'host lease request failed; no new downloads of the host once the lease runs out');
      throw err;
    }
  }
}

/**
 * The worker's broker: `acquire` before a request, `release` when the body is stored or the
 * attempt failed. Permits come from leases the lanes keep with the hosts' coordinators.
 */
export class HostBroker implements HostPermits {
  private readonly lanes = new Map<string, HostLane>();
  /** Hosts known to have no limit, and the limits of the others, so a download looks its host up once. */
  private readonly limits = new Map<string, HostLimit | null>();
  closed = false;

  constructor(readonly options: HostBrokerOptions) {}

  private limitOf(host: string): HostLimit | undefined {
    let limit = this.limits.get(host);
    if (limit === undefined) {
      limit = this.options.limitFor(host) ?? null;
      this.limits.set(host, limit);
    }
    return limit ?? undefined;
  }

  private laneFor(host: string, limit: HostLimit): HostLane {
    let lane = this.lanes.get(host);
    if (!lane) {
      lane = new HostLane(host, limit, this);
      this.lanes.set(host, lane);
    }
    return lane;
  }

  /** A lane whose loop ended is dropped, so an idle host holds nothing. */
  forget(lane: HostLane): void {
    if (this.lanes.get(lane.host) === lane && lane.waiters.length === 0 && lane.inUse === 0) this.lanes.delete(lane.host);
    else if (this.lanes.get(lane.host) === lane && !this.closed) void lane.run();
  }

  acquire(url: string, signal?: AbortSignal): Promise<HostPermit> {
    const host = hostOf(url);
    const limit = this.limitOf(host);
    if (!limit) return Promise.resolve(FREE);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const lane = this.laneFor(host, limit);
    return new Promise<HostPermit>((resolve, reject) => {
      const onAbort = () => {
        const i = lane.waiters.indexOf(waiter);
        if (i >= 0) lane.waiters.splice(i, 1);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        resolve: (permit) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(permit);
        },
        reject,
        since: Date.now(),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      lane.waiters.push(waiter);
      lane.pump();
      // A renewal is due only when this download makes the lane want more than it was granted.
      if (lane.waiters.includes(waiter)) {
        if (!lane.running) void lane.run();
        else if (lane.starved()) lane.wake();
      }
    });
  }

  pause(url: string, until: number): void {
    const host = hostOf(url);
    const limit = this.limitOf(host);
    if (!limit || until <= Date.now()) return;
    const lane = this.laneFor(host, limit);
    lane.pausedUntil = Math.max(lane.pausedUntil, until);
    lane.pauseToReport = Math.max(lane.pauseToReport ?? 0, until);
    if (lane.running) lane.wake();
    else void lane.run();
  }

  /**
   * Returns every lease whose downloads are done (worker shutdown), waiting at most `maxWaitMs`:
   * a coordinator that no running worker serves cannot answer, and its leases lapse anyway.
   */
  async close(maxWaitMs = CLOSE_WAIT_MS): Promise<void> {
    this.closed = true;
    for (const lane of this.lanes.values()) lane.wake();
    const until = Date.now() + Math.min(maxWaitMs, this.options.leaseMs);
    while (this.lanes.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The broker's coordinator through Temporal: each lease request is the `hostLease` Update sent
 * with Update-With-Start to `host-<host>`, so the first worker to need a host starts its
 * coordinator, and a coordinator that closed while idle is started again by the next request.
 */

/** Coordinators run on the worker's task queue: any worker of the fleet runs their workflow tasks. */
export function temporalHostCoordinator(client: Client, taskQueue: string): HostCoordinator {
  return {
    lease(host, request) {
      const startWorkflowOperation = new WithStartWorkflowOperation<typeof hostCoordinatorWorkflow>(WorkflowTypes.hostCoordinator, {
        workflowId: hostCoordinatorId(host),
        taskQueue,
        args: [{ host }],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        staticSummary: `politeness of ${host}: permits leased to workers`,
      });
      return client.workflow.executeUpdateWithStart(hostLeaseUpdate, { args: [request], startWorkflowOperation });
    },
  };
}
