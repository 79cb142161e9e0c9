/**
 * The per-host coordinator (`host-<host>`): one workflow per politely limited host, shared by every
 * job and worker. Workers' brokers lease permits from it with the `hostLease` Update (sent with
 * Update-With-Start, so the first request starts it); it shares the host's limit among the workers
 * that want permits, drops leases not renewed in time, and carries a `Retry-After` a worker reported
 * to all of them. Temporal's mutex/semaphore pattern, with leases so a round trip is paid per renewal
 * per worker, not per download. The rules are in host-permits.ts; this is the loop around them.
 */
import { allHandlersFinished, condition, continueAsNew, setHandler, workflowInfo } from '@temporalio/workflow';
import { hostLeaseUpdate } from '../model/messages.js';
import { applyRequest, dropExpired, grantFor, settleGrant, spacingMs } from './host-permits.js';
import type { HostCoordinatorInput, HostCoordinatorState, HostLeaseGrant, HostLeaseRequest } from '../model/host-types.js';

/** Continue as new past this many history events (each lease request adds about five). */
export const COORDINATOR_MAX_HISTORY = 2_000;

/** A request that wants more than it holds waits at most this share of its lease for a permit to come free. */
const WAIT_SHARE_OF_LEASE = 3;

/** Refuses a malformed lease request before it enters history. */
function validate(req: HostLeaseRequest): void {
  const counts = [req.want, req.inUse, req.limit, req.minDelayMs, req.leaseMs];
  if (typeof req.workerId !== 'string' || req.workerId === '' || counts.some((n) => !Number.isInteger(n) || n < 0) || req.leaseMs < 1) {
    throw new Error(`invalid host lease request: ${JSON.stringify(req)}`);
  }
}

/** Shares one host's permits among the workers that want them, until no worker has held any for a lease time. */
export async function hostCoordinatorWorkflow(input: HostCoordinatorInput): Promise<void> {
  const state: HostCoordinatorState = input.state ?? {
    host: input.host,
    limit: 1,
    minDelayMs: 0,
    pausedUntil: 0,
    lastRequestAt: Date.now(),
    leaseMs: 15_000,
    holders: {},
  };
  let draining = false;
  const maxHistory = input.maxHistory ?? COORDINATOR_MAX_HISTORY;
  const historyFull = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > maxHistory;

  setHandler(
    hostLeaseUpdate,
    async (req): Promise<HostLeaseGrant> => {
      applyRequest(state, req, Date.now());
      dropExpired(state, Date.now());
      const holder = state.holders[req.workerId];
      if (holder && !draining && holder.want > holder.granted && grantFor(state, req.workerId) <= holder.granted) {
        // Nothing more to give now: wait (bounded) for another worker's report or a lease to expire.
        const others = Object.entries(state.holders).filter(([id]) => id !== req.workerId);
        const nextExpiry = Math.min(...others.map(([, h]) => h.expiresAt - Date.now() + 1));
        const waitMs = Math.max(1, Math.min(Math.floor(req.leaseMs / WAIT_SHARE_OF_LEASE), nextExpiry));
        const before = holder.granted;
        await condition(() => {
          dropExpired(state, Date.now());
          return draining || grantFor(state, req.workerId) > before;
        }, waitMs);
        dropExpired(state, Date.now());
      }
      if (!state.holders[req.workerId]) return { granted: 0, pausedUntil: state.pausedUntil, spacingMs: spacingMs(state) };
      const granted = grantFor(state, req.workerId);
      settleGrant(state, req.workerId, granted, Date.now());
      return { granted, pausedUntil: state.pausedUntil, spacingMs: spacingMs(state) };
    },
    { validator: validate },
  );

  for (;;) {
    const now = Date.now();
    const expiries = Object.values(state.holders).map((h) => h.expiresAt - now);
    const idleIn = state.lastRequestAt + state.leaseMs - now;
    const wakeMs = Math.max(1, expiries.length > 0 ? Math.min(...expiries) : Math.max(idleIn, state.pausedUntil - now));
    await condition(historyFull, wakeMs);
    dropExpired(state, Date.now());
    const idle = () =>
      Object.keys(state.holders).length === 0 && Date.now() >= state.pausedUntil && Date.now() - state.lastRequestAt >= state.leaseMs;
    if (idle() && allHandlersFinished()) return;
    if (historyFull()) {
      draining = true;
      await condition(allHandlersFinished);
      return continueAsNew<typeof hostCoordinatorWorkflow>({
        host: state.host,
        state,
        ...(input.maxHistory !== undefined ? { maxHistory } : {}),
      });
    }
  }
}
