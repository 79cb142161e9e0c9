/**
 * The coordinator's pure rules for sharing a host's permits among workers: expired leases, fair
 * targets, the grant of one worker. Pure (no workflow API) so they are unit-tested directly and the
 * coordinator workflow stays a thin loop around them.
 */
import type { HostCoordinatorState, HostHolder, HostLeaseRequest } from '../model/host-types.js';

/** Permits a worker counts as holding: what it was granted, or more while downloads it started earlier still run. */
export function heldBy(holder: HostHolder): number {
  return Math.max(holder.granted, holder.inUse);
}

/** Drops leases not renewed in time (a dead or partitioned worker): their permits come back. */
export function dropExpired(state: HostCoordinatorState, now: number): void {
  for (const [id, holder] of Object.entries(state.holders)) if (holder.expiresAt <= now) delete state.holders[id];
}

/**
 * How many permits each worker that wants some should hold: the limit handed out one at a time,
 * round-robin, longest-waiting worker first (then by id, for determinism). A worker that holds
 * more than its target is asked to shrink at its next renewal.
 */
export function fairTargets(state: HostCoordinatorState): Map<string, number> {
  const wanting = Object.entries(state.holders)
    .filter(([, h]) => h.want > 0)
    .sort(([a, ha], [b, hb]) => (ha.waitingSince ?? Infinity) - (hb.waitingSince ?? Infinity) || (a < b ? -1 : a > b ? 1 : 0));
  const targets = new Map<string, number>(wanting.map(([id]) => [id, 0]));
  let left = state.limit;
  let gave = true;
  while (left > 0 && gave) {
    gave = false;
    for (const [id, h] of wanting) {
      if (left === 0) break;
      if (targets.get(id)! < h.want) {
        targets.set(id, targets.get(id)! + 1);
        left--;
        gave = true;
      }
    }
  }
  return targets;
}

/**
 * The grant of `workerId` now: its fair target, but never more than the limit minus what every
 * other worker holds (granted, or still in use), so the permits out never exceed the limit.
 */
export function grantFor(state: HostCoordinatorState, workerId: string): number {
  let others = 0;
  for (const [id, h] of Object.entries(state.holders)) if (id !== workerId) others += heldBy(h);
  const target = fairTargets(state).get(workerId) ?? 0;
  return Math.max(0, Math.min(target, state.limit - others));
}

/** Records a request: the worker's report, the newest limit and spacing, a pause. A request wanting nothing with nothing in use ends its lease. */
export function applyRequest(state: HostCoordinatorState, req: HostLeaseRequest, now: number): void {
  state.limit = req.limit;
  state.minDelayMs = req.minDelayMs;
  state.leaseMs = req.leaseMs;
  state.lastRequestAt = now;
  if (req.pauseUntil !== undefined) state.pausedUntil = Math.max(state.pausedUntil, req.pauseUntil);
  if (req.want === 0 && req.inUse === 0) {
    delete state.holders[req.workerId];
    return;
  }
  const holder = state.holders[req.workerId] ?? { granted: 0, inUse: 0, want: 0, expiresAt: 0 };
  holder.inUse = req.inUse;
  holder.want = Math.min(req.want, req.limit);
  holder.expiresAt = now + req.leaseMs;
  // Waiting counts from the first request that wants more than it holds: fairness serves it first.
  if (holder.want > holder.granted) holder.waitingSince ??= now;
  state.holders[req.workerId] = holder;
}

/** Sets the worker's grant and its place in the queue of waiting workers. */
export function settleGrant(state: HostCoordinatorState, workerId: string, granted: number, now: number): void {
  const holder = state.holders[workerId];
  if (!holder) return;
  holder.granted = granted;
  holder.expiresAt = now + state.leaseMs;
  if (granted >= holder.want) delete holder.waitingSince;
  else holder.waitingSince ??= now;
}

/** Time between two request starts on one worker: the host's minimum delay times the workers holding permits. */
export function spacingMs(state: HostCoordinatorState): number {
  if (state.minDelayMs === 0) return 0;
  const holding = Object.values(state.holders).filter((h) => h.granted > 0).length;
  return state.minDelayMs * Math.max(1, holding);
}
