import { createHash } from 'node:crypto';
import type { ManifestResource } from '../../model/job-types.js';
import type { Manifest } from './manifest-schema.js';

/** JSON with object keys sorted, so the same manifest always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The manifest's fingerprint (sha256 hex of its canonical JSON): kept in the job's memo so a
 * repeated submit of the same jobId is told apart from a conflicting one.
 */
export function manifestHash(
  handler: string,
  metadata: Manifest['metadata'],
  resources: readonly ManifestResource[],
  store?: string,
  priority?: number,
  notify?: { url: string; events: readonly string[] },
): string {
  // `store`, `priority` and `notify` count only when given, so manifests without them keep the hash they always had.
  return createHash('sha256')
    .update(canonicalJson({ handler, metadata: metadata ?? null, resources, store, priority, notify }))
    .digest('hex');
}
