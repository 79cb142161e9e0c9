import type { HostLeaseRequest } from '../../src/model/host-types.js';

/**
 * A builder of host lease requests for the coordinator's tests (the pure rules and the workflow):
 * limit 2, no minimum delay, leases of `leaseMs`; `extra` overrides any field.
 */
export function leaseRequests(leaseMs: number) {
  return (workerId: string, want: number, inUse = 0, extra: Partial<HostLeaseRequest> = {}): HostLeaseRequest => ({
    workerId,
    want,
    inUse,
    limit: 2,
    minDelayMs: 0,
    leaseMs,
    ...extra,
  });
}
