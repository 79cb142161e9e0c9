import type { Priority } from '@temporalio/common';
import { FAIRNESS_KEY_MAX_BYTES, type FairnessWeights } from '../../config/fairness-weights.js';

/**
 * A manifest's `priority` (the contract's): 1 runs first, 5 last, 3 when the manifest gives none.
 * Temporal's default task queue has these five levels (`matching.priorityLevels` 5), 3 its middle.
 */
export const JobPriority = { highest: 1, lowest: 5, default: 3 } as const;

/**
 * A client identity as a Temporal fairness key: at most 64 bytes (Temporal refuses longer). Names
 * and `token:<n>` always fit; only an unusual peer address (an IPv6 zone) is cut.
 */
export function fairnessKeyOf(client: string): string {
  let key = client;
  while (Buffer.byteLength(key, 'utf8') > FAIRNESS_KEY_MAX_BYTES) key = key.slice(0, -1);
  return key;
}

/** The configured weight of a fairness key, when the operator set one (Temporal uses 1 otherwise). */
function weightOf(weights: FairnessWeights, key: string): Pick<Priority, 'fairnessWeight'> {
  const weight = Object.hasOwn(weights, key) ? weights[key] : undefined;
  return weight === undefined ? {} : { fairnessWeight: weight };
}

/**
 * The Temporal priority a job's workflow starts with: the manifest's `priority` as `priorityKey`
 * (3 when absent), the submitting client as `fairnessKey` and the operator's weight for it. Temporal
 * gives the same priority to the job's activities and page children, so the whole job is ordered
 * and balanced by it, not only its first workflow task.
 */
export function startPriority(priority: number | undefined, client: string, weights: FairnessWeights): Priority {
  const fairnessKey = fairnessKeyOf(client);
  return { priorityKey: priority ?? JobPriority.default, fairnessKey, ...weightOf(weights, fairnessKey) };
}

/**
 * The priority of a retry run (Update-With-Start on a closed job): the closed run's priority key
 * and fairness key, so a retry is ordered and balanced as its job was, with the weight the
 * configuration gives that key now. A run started before priorities (none recorded) gets the default.
 */
export function retryPriority(previous: Priority | undefined, weights: FairnessWeights): Priority {
  const fairnessKey = previous?.fairnessKey || undefined;
  return {
    priorityKey: previous?.priorityKey || JobPriority.default,
    ...(fairnessKey ? { fairnessKey, ...weightOf(weights, fairnessKey) } : {}),
  };
}
