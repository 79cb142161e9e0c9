import { isSearchAttributeNotRegistered } from '../../temporal/search-attributes-setup.js';
import type { JobServiceDeps } from './job-views.js';
import { isTemporalUnavailable, searchAttributesNotReady, temporalUnavailable } from './temporal-errors.js';

/** One Temporal call, bounded by a deadline, with outages turned into the API's 503s. */
export type TemporalCall = <T>(fn: () => Promise<T>, ms?: number) => Promise<T>;

/** What every job module works with: the service's dependencies and its bounded Temporal call. */
export interface JobContext {
  deps: JobServiceDeps;
  temporal: TemporalCall;
}

/**
 * Builds the context the job modules share. Each Temporal call is bounded so a crawler gets a
 * prompt 503 rather than the SDK's long retries.
 */
export function createJobContext(deps: JobServiceDeps): JobContext {
  const temporal: TemporalCall = async (fn, ms = deps.config.api.temporalTimeoutMs) => {
    try {
      return await deps.client.connection.withDeadline(Date.now() + ms, fn);
    } catch (err) {
      if (isTemporalUnavailable(err)) throw temporalUnavailable(err);
      if (isSearchAttributeNotRegistered(err)) throw searchAttributesNotReady();
      throw err;
    }
  };
  return { deps, temporal };
}
