/**
 * Shapes of per-host politeness across every job and worker: what a worker's broker asks the host's
 * coordinator workflow (`host-<host>`) and what it is granted. Shared by the coordinator
 * (src/workflows/host-coordinator-workflow.ts) and the broker (src/activities/host-broker.ts).
 */

/** One lease request: a worker reports what it holds and wants, and renews its lease. */
export interface HostLeaseRequest {
  /** The worker process (one broker per process); permits are leased to it, not to downloads. */
  workerId: string;
  /** Permits the worker would like to hold: its downloads in flight plus those waiting, at most the limit. 0 returns its lease. */
  want: number;
  /** Downloads of the host running on the worker now (they hold permits whatever the grant says). */
  inUse: number;
  /** The host's limit as this worker's configuration says (the newest request's value applies). */
  limit: number;
  /** Minimum time between two requests to the host across the fleet, in ms (0 = none). */
  minDelayMs: number;
  /** How long the lease lasts without a renewal, in ms; a dead worker's permits come back after it. */
  leaseMs: number;
  /** A `Retry-After` the worker saw from the host: no permit is used before this time (epoch ms). */
  pauseUntil?: number;
}

/** What the coordinator answers. */
export interface HostLeaseGrant {
  /** Permits the worker may hold until its lease expires (it starts no download above this). */
  granted: number;
  /** No download of the host starts before this time (epoch ms; 0 = not paused). */
  pausedUntil: number;
  /** Time between two request starts on this worker, in ms: minDelayMs times the workers holding permits. */
  spacingMs: number;
}

/** A worker's lease as the coordinator keeps it. */
export interface HostHolder {
  granted: number;
  inUse: number;
  want: number;
  /** Workflow time (epoch ms) after which the lease is dropped when not renewed. */
  expiresAt: number;
  /** Since when the worker wants more than it was granted (the longest waiting is served first). */
  waitingSince?: number;
}

/** The coordinator's whole state; carried across continue-as-new. */
export interface HostCoordinatorState {
  host: string;
  limit: number;
  minDelayMs: number;
  pausedUntil: number;
  /** Workflow time of the last lease request (the coordinator closes once idle for a lease time). */
  lastRequestAt: number;
  leaseMs: number;
  holders: Record<string, HostHolder>;
}

/** The coordinator's input: the host, and the state of the run it continues (absent on a fresh start). */
export interface HostCoordinatorInput {
  host: string;
  state?: HostCoordinatorState;
  /** History events after which it continues as new; COORDINATOR_MAX_HISTORY when absent (tests set fewer). */
  maxHistory?: number;
}
